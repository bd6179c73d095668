#include "agent/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace folderhook::agent {
namespace {

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
constexpr int kMaxAttempts = 64;

// Is `name` still the object expected, and of the kind wanted?
int check_object(int parent, const std::string& name, ObjectId expected, bool want_dir) {
  struct stat st {};
  if (const int err = stat_at(parent, name, st)) return err;
  if (expected.known() && id_of(st) != expected) return kReplaced;
  if (S_ISDIR(st.st_mode) != want_dir) return want_dir ? ENOTDIR : EISDIR;
  return 0;
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

ObjectId id_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

std::string describe(int error) {
  switch (error) {
    case kReplaced:
      return "another object is in its place";
    case ELOOP:
      return "a symlink in its path";
    case EXDEV:
      return "its path leaves the folder";
    default:
      return std::strerror(error);
  }
}

int check_relative(std::string_view relative) {
  if (relative.empty() || relative.front() == '/' || relative.back() == '/') return EINVAL;
  size_t begin = 0;
  while (begin <= relative.size()) {
    const size_t end = std::min(relative.find('/', begin), relative.size());
    const std::string_view part = relative.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") return EINVAL;
    begin = end + 1;
  }
  return 0;
}

int dup_fd(int fd, Fd& out) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return errno;
  out = Fd(copy);
  return 0;
}

int open_root(const std::string& path, Fd& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  out = Fd(fd);
  return 0;
}

int open_beneath(int dir, std::string_view relative, int flags, Fd& out, mode_t mode) {
  if (const int err = check_relative(relative)) return err;
  const std::string path(relative);
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  // openat2 refuses a mode without O_CREAT or O_TMPFILE.
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = kResolve;
  // EAGAIN: a rename somewhere raced the lookup, and the kernel would rather not guess. Tried
  // again a bounded number of times: a user renaming in a loop must not hold a worker forever.
  long fd = -1;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) break;
  }
  if (fd < 0) return errno;
  out = Fd(static_cast<int>(fd));
  return 0;
}

int open_parent_beneath(int dir, std::string_view relative, Fd& parent, std::string& name) {
  if (const int err = check_relative(relative)) return err;
  const size_t slash = relative.rfind('/');
  if (slash == std::string_view::npos) {
    name = std::string(relative);
    return dup_fd(dir, parent);
  }
  name = std::string(relative.substr(slash + 1));
  return open_beneath(dir, relative.substr(0, slash), O_PATH | O_DIRECTORY, parent);
}

int stat_at(int parent, const std::string& name, struct stat& st) {
  return ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

int unlink_checked(int parent, const std::string& name, ObjectId expected, int flags) {
  if (const int err = check_object(parent, name, expected, (flags & AT_REMOVEDIR) != 0)) return err;
  return ::unlinkat(parent, name.c_str(), flags) == 0 ? 0 : errno;
}

int rename_checked(int parent, const std::string& name, ObjectId expected, int to_parent,
                   const std::string& to_name) {
  if (const int err = check_object(parent, name, expected, /*want_dir=*/false)) return err;
  return ::renameat2(parent, name.c_str(), to_parent, to_name.c_str(), RENAME_NOREPLACE) == 0
             ? 0
             : errno;
}

int make_dirs_beneath(int dir, std::string_view relative, mode_t mode, Fd& out,
                      std::vector<std::string>& made,
                      const std::function<void(const std::string&)>& before_make) {
  if (relative.empty()) return dup_fd(dir, out);
  if (const int err = check_relative(relative)) return err;
  Fd current;
  if (const int err = dup_fd(dir, current)) return err;
  size_t begin = 0;
  while (begin < relative.size()) {
    const size_t end = std::min(relative.find('/', begin), relative.size());
    const std::string part(relative.substr(begin, end - begin));
    Fd next;
    int err = open_beneath(current.get(), part, O_PATH | O_DIRECTORY, next);
    if (err == ENOENT) {
      const std::string made_path(relative.substr(0, end));
      if (before_make) before_make(made_path);
      if (::mkdirat(current.get(), part.c_str(), mode) == 0) {
        made.push_back(made_path);
      } else if (errno != EEXIST) {  // EEXIST: someone else made it meanwhile
        return errno;
      }
      err = open_beneath(current.get(), part, O_PATH | O_DIRECTORY, next);
    }
    if (err) return err;
    current = std::move(next);
    begin = end + 1;
  }
  out = std::move(current);
  return 0;
}

}  // namespace folderhook::agent
