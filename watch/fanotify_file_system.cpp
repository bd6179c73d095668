#include "watch/fanotify_file_system.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "watch/fanotify_record.h"

namespace folderhook::watch {
namespace {

constexpr std::size_t kMaxHandleBytes = 128;  // MAX_HANDLE_SZ

std::string fsid_bytes(const struct statfs& st) {
  return std::string(reinterpret_cast<const char*>(&st.f_fsid), sizeof st.f_fsid);
}

}  // namespace

FanotifyFileSystem::~FanotifyFileSystem() {
  for (const auto& [fsid, fd] : mount_fds_) ::close(fd);
}

void FanotifyFileSystem::add_mount(const std::string& fsid, int fd) {
  if (!mount_fds_.emplace(fsid, fd).second) ::close(fd);
}

void FanotifyFileSystem::expect(const std::string& dir, const std::string& key) {
  expected_[dir] = key;
}

std::string FanotifyFileSystem::key_of(const std::string& path) {
  alignas(file_handle) char buffer[sizeof(file_handle) + kMaxHandleBytes];
  auto* handle = reinterpret_cast<file_handle*>(buffer);
  handle->handle_bytes = kMaxHandleBytes;
  int mount_id = 0;
  if (name_to_handle_at(AT_FDCWD, path.c_str(), handle, &mount_id, 0) != 0) return {};
  auto fsid = fsid_by_mount_id_.find(mount_id);
  if (fsid == fsid_by_mount_id_.end()) {
    struct statfs st {};
    if (::statfs(path.c_str(), &st) != 0) return {};
    fsid = fsid_by_mount_id_.emplace(mount_id, fsid_bytes(st)).first;
  }
  return fsid->second +
         std::string(buffer, sizeof(file_handle) + handle->handle_bytes);
}

int FanotifyFileSystem::add_watch(const std::string& dir) {
  std::string key;
  if (auto it = expected_.find(dir); it != expected_.end()) {
    key = std::move(it->second);
    expected_.erase(it);
  } else {
    key = key_of(dir);
    if (key.empty()) return -errno;
  }
  outside_.erase(key);
  if (auto it = wd_by_key_.find(key); it != wd_by_key_.end()) return it->second;
  const int wd = next_wd_++;
  wd_by_key_[key] = wd;
  key_by_wd_[wd] = key;
  return wd;
}

void FanotifyFileSystem::remove_watch(int wd) {
  auto it = key_by_wd_.find(wd);
  if (it == key_by_wd_.end()) return;
  wd_by_key_.erase(it->second);
  key_by_wd_.erase(it);
}

std::optional<int> FanotifyFileSystem::wd_of_key(const std::string& key) const {
  auto it = wd_by_key_.find(key);
  if (it == wd_by_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> FanotifyFileSystem::resolve(const std::string& key) {
  auto mount = mount_fds_.find(std::string(fsid_of_key(key)));
  const std::string_view raw = handle_of_key(key);
  if (mount == mount_fds_.end() || raw.size() < sizeof(file_handle) ||
      raw.size() > sizeof(file_handle) + kMaxHandleBytes) {
    return std::nullopt;
  }
  alignas(file_handle) char buffer[sizeof(file_handle) + kMaxHandleBytes];
  std::memcpy(buffer, raw.data(), raw.size());
  const int fd = open_by_handle_at(mount->second, reinterpret_cast<file_handle*>(buffer),
                                   O_PATH | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // ESTALE: deleted, and no longer in memory
  char target[4096];
  const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target,
                               sizeof target);
  ::close(fd);
  if (n <= 0 || static_cast<std::size_t>(n) == sizeof target) return std::nullopt;
  std::string path(target, static_cast<std::size_t>(n));
  // Deleted but still in memory: its events are about a directory that no longer exists.
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.front() != '/' || path.ends_with(kDeleted)) return std::nullopt;
  return path;
}

std::optional<std::string> FanotifyFileSystem::outside_path(const std::string& key) const {
  auto it = outside_.find(key);
  if (it == outside_.end()) return std::nullopt;
  return it->second;
}

void FanotifyFileSystem::remember_outside(const std::string& key, const std::string& path) {
  if (outside_.size() >= kMaxOutside) outside_.clear();
  outside_[key] = path;
}

}  // namespace folderhook::watch
