#include "watch/real_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "watch/watch_table.h"

namespace folderhook::watch {

uint32_t watch_mask(bool attributes) {
  return (attributes ? IN_ATTRIB : 0u) | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO |
         IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ONLYDIR | IN_DONT_FOLLOW |
         IN_EXCL_UNLINK;
}

uint64_t content_hash(const void* data, std::size_t size, uint64_t seed) {
  // A multiply-xorshift over 8-byte words: several GB/s, and any changed byte changes it.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t h = seed ^ (size * kMul);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  for (std::size_t j = 0; i + j < size; ++j) tail |= uint64_t{bytes[i + j]} << (8 * j);
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  return h;
}

int RealFileSystem::add_watch(const std::string& dir) {
  const int wd = inotify_add_watch(fd_, dir.c_str(), watch_mask(attributes_));
  return wd >= 0 ? wd : -errno;
}

void RealFileSystem::remove_watch(int wd) { inotify_rm_watch(fd_, wd); }

RealFileSystem::~RealFileSystem() {
  // The watches go with the inotify descriptor, which is not ours (and may be closed already).
  for (const Marker& marker : markers_) {
    if (marker.fd >= 0) close(marker.fd);
  }
}

uint64_t RealFileSystem::put_marker() {
  if (fd_ < 0 || markers_failed_) return 0;
  if (markers_.empty()) {
    markers_.resize(kMarkerRing);
    for (Marker& marker : markers_) {
      marker.fd = memfd_create("folderhook-marker", MFD_CLOEXEC);
      if (marker.fd < 0) break;
      const std::string path = "/proc/self/fd/" + std::to_string(marker.fd);
      marker.wd = inotify_add_watch(fd_, path.c_str(), IN_ATTRIB);
      if (marker.wd < 0) break;
    }
    if (markers_.back().wd < 0) {
      markers_failed_ = true;  // the destructor frees what was made
      return 0;
    }
  }
  Marker& marker = markers_[markers_put_ % kMarkerRing];
  marker.mode = !marker.mode;
  if (fchmod(marker.fd, marker.mode ? 0400 : 0600) != 0) return 0;
  return ++markers_put_;
}

uint64_t RealFileSystem::marker_read(int wd) {
  if (markers_failed_ || wd < 0) return 0;
  const auto it = std::find_if(markers_.begin(), markers_.end(),
                               [wd](const Marker& marker) { return marker.wd == wd; });
  if (it == markers_.end()) return 0;
  // Marker n is an fchmod of markers_[(n - 1) % kMarkerRing]: the first one after the last
  // read that is on this watch.
  const auto slot = static_cast<uint64_t>(it - markers_.begin());
  uint64_t n = markers_read_ + 1;
  while ((n - 1) % kMarkerRing != slot) ++n;
  return markers_read_ = n;
}

Record RealFileSystem::translate(const RawRecord& raw) {
  if (const uint64_t marker = marker_read(raw.wd); marker != 0) {
    Record record;
    record.kinds = {RecordKind::kMarker};
    record.wd = raw.wd;
    record.marker = marker;
    return record;
  }
  return inotify_record_of(raw);
}

namespace {

FileInfo info_of(const struct stat& st) {
  FileInfo info;
  if (S_ISREG(st.st_mode)) {
    info.kind = FileKind::kRegular;
  } else if (S_ISDIR(st.st_mode)) {
    info.kind = FileKind::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    info.kind = FileKind::kSymlink;
  } else {
    info.kind = FileKind::kOther;
  }
  info.uid = st.st_uid;
  info.size = static_cast<uint64_t>(st.st_size);
  info.dev = static_cast<uint64_t>(st.st_dev);
  info.ino = static_cast<uint64_t>(st.st_ino);
  info.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  info.mode = st.st_mode & 07777;
  info.gid = st.st_gid;
  return info;
}

}  // namespace

std::optional<FileInfo> RealFileSystem::stat(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return std::nullopt;
  return info_of(st);
}

std::vector<std::string> RealFileSystem::list(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* entry = readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<DirEntry> RealFileSystem::list_stat(const std::string& dir) {
  // One open, getdents64 straight into a buffer, and fstatat relative to the directory: no
  // DIR stream, no path walk from / for each entry. O_NOFOLLOW: a directory replaced by a
  // symlink since it was watched is not listed through it. O_NOATIME: our listing does not
  // dirty the directory's inode.
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  std::vector<DirEntry> out;
  int fd = -1;
  if (noatime_.load(std::memory_order_relaxed)) {
    fd = open(dir.c_str(), kFlags | O_NOATIME);
    if (fd < 0 && errno == EPERM) noatime_.store(false, std::memory_order_relaxed);
  }
  if (fd < 0) fd = open(dir.c_str(), kFlags);
  if (fd < 0) return out;
  alignas(8) char buffer[32 * 1024];
  for (;;) {
    const ssize_t n = getdents64(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
      offset += entry->d_reclen;
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone since
      out.push_back({std::string(name), info_of(st)});
    }
  }
  close(fd);
  std::sort(out.begin(), out.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return out;
}

void RealFileSystem::sift_queue() {
  if (fd_ < 0) return;
  alignas(inotify_event) char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: drained
    for (std::size_t offset = 0; offset + sizeof(inotify_event) <= static_cast<std::size_t>(n);) {
      inotify_event header;
      std::memcpy(&header, buffer + offset, sizeof header);
      const std::size_t size = sizeof header + header.len;
      if (!is_listing_record(header.mask) && !held_overflowed_) {
        if (held_count_ < kMaxHeld) {
          held_.append(buffer + offset, size);
          ++held_count_;
        } else {
          held_overflowed_ = true;
          RawRecord overflow;
          overflow.mask = IN_Q_OVERFLOW;
          held_ += encode_inotify_record(overflow);
        }
      }
      offset += size;
    }
  }
}

std::vector<RawRecord> RealFileSystem::take_held() {
  if (held_.empty()) return {};  // the common case: called after every read of the queue
  std::vector<RawRecord> records = decode_inotify_records(held_);
  held_.clear();
  held_.shrink_to_fit();
  held_count_ = 0;
  held_overflowed_ = false;
  return records;
}

std::optional<uint64_t> RealFileSystem::hash(const std::string& path) {
  // O_NOATIME keeps our read from touching the file's atime; it needs ownership, so fall back.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > kMaxHashBytes) {
    close(fd);
    return std::nullopt;
  }
  std::vector<char> buffer(1 << 16);
  uint64_t h = 0x6A09E667F3BCC908ull;
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    h = content_hash(buffer.data(), static_cast<std::size_t>(n), h);
    total += static_cast<uint64_t>(n);
  }
  close(fd);
  return h ^ total;
}

namespace {

// The name the user or group database gives `id` (getpwuid_r, getgrgid_r), or `id` as digits
// when it has none; looked up once per id.
template <typename Entry, typename Id>
std::string cached_account_name(std::map<Id, std::string>& cache, Id id,
                                int (*lookup)(Id, Entry*, char*, size_t, Entry**),
                                char* Entry::*name_field) {
  if (auto it = cache.find(id); it != cache.end()) return it->second;
  std::string name = std::to_string(id);
  std::vector<char> buffer(16384);
  Entry entry;
  Entry* result = nullptr;
  if (lookup(id, &entry, buffer.data(), buffer.size(), &result) == 0 && result != nullptr) {
    name = result->*name_field;
  }
  cache[id] = name;
  return name;
}

}  // namespace

std::string RealFileSystem::user_name(uid_t uid) {
  return cached_account_name(names_, uid, getpwuid_r, &passwd::pw_name);
}

std::string RealFileSystem::group_name(gid_t gid) {
  return cached_account_name(groups_, gid, getgrgid_r, &group::gr_name);
}

namespace {

// A hash of the ACL xattrs of the object `fd` (O_PATH) refers to; 0 when it has none.
uint64_t acl_hash(int fd) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  uint64_t h = 0;
  uint64_t seed = 1;
  for (const char* name : {"system.posix_acl_access", "system.posix_acl_default"}) {
    char value[4096];
    const ssize_t n = getxattr(proc.c_str(), name, value, sizeof value);
    // ERANGE: longer than any ACL of a few hundred entries; still a change from none.
    if (n > 0) h ^= content_hash(value, static_cast<std::size_t>(n), seed);
    if (n < 0 && errno == ERANGE) h ^= seed;
    seed += 0x9E3779B97F4A7C15ull;
  }
  return h;
}

}  // namespace

std::optional<Permissions> RealFileSystem::permissions(const std::string& root,
                                                       const std::string& path) {
  if (path.size() <= root.size() || !path_is_within(path, root)) return std::nullopt;
  const std::string relative = path.substr(root == "/" ? 1 : root.size() + 1);
  const int dir = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return std::nullopt;
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const int fd = static_cast<int>(syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof how));
  close(dir);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::optional<Permissions> out;
  if (fstat(fd, &st) == 0) {
    out = Permissions{st.st_mode & 07777u, st.st_uid, st.st_gid, 0};
    if (!S_ISLNK(st.st_mode)) out->acl = acl_hash(fd);  // a symlink has no ACL
  }
  close(fd);
  return out;
}

uint64_t RealFileSystem::max_user_watches() {
  std::ifstream in("/proc/sys/fs/inotify/max_user_watches");
  uint64_t value = 0;
  in >> value;
  return value;
}

}  // namespace folderhook::watch
