// Beneath a folder: reading and changing what lies inside a directory that untrusted users
// write into, so that nothing the agent touches is outside it, whatever those users do to the
// paths between two system calls (DESIGN.md, "Acting on untrusted folders").
//
// The contract:
// - A folder is opened once (open_root), by the operator's path. Every later path is
//   relative to a directory descriptor and resolved by the kernel (openat2) beneath it with
//   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: a symlink in any component,
//   the last one included, is refused (ELOOP), and so is anything that would leave the
//   directory. Relative paths must be clean: not empty, no leading or doubled '/', no "." or
//   ".." component (EINVAL), so ".." is refused before the kernel sees it.
// - Changes act on a (parent descriptor, name) pair. Once the parent is open, renaming or
//   replacing the directories above it changes nothing about where the change lands.
// - Where the object acted on must be the one listed or reported, its device and inode are
//   compared first (ObjectId); another object in its place is kReplaced, and nothing is done.
//   What remains between that check and the change is a swap within the pinned parent, which
//   stays beneath the folder; a symlink there is only ever unlinked or renamed, not followed.
//
// Errors are values: each call returns an errno value (0 = success) and logs nothing. Any
// thread may call these; an Fd belongs to one thread at a time.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::agent {

// A file descriptor, closed with its owner.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // The descriptor, no longer closed by this Fd (for fdopendir, which takes it over).
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Which object a path named: device and inode. ino 0 = unknown (nothing to compare).
struct ObjectId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool known() const { return ino != 0; }
  bool operator==(const ObjectId&) const = default;
};
ObjectId id_of(const struct stat& st);

// The error for "another object is where the listed or reported one was".
inline constexpr int kReplaced = ESTALE;
// strerror(error), but words of our own for kReplaced and for a refused path.
std::string describe(int error);

// 0 when `relative` is a clean relative path (see above), else EINVAL.
int check_relative(std::string_view relative);

// The folder itself, by the operator's absolute path (its symlinks, if any, are the operator's
// and are followed): a directory descriptor for listing and for the calls below.
int open_root(const std::string& path, Fd& out);

// A second descriptor of the same open directory (F_DUPFD_CLOEXEC).
int dup_fd(int fd, Fd& out);

// openat2(dir, relative, flags | O_CLOEXEC, mode) beneath `dir`, no symlink anywhere. EAGAIN
// when renames kept racing the lookup (the kernel refuses to guess; retried a few times first).
int open_beneath(int dir, std::string_view relative, int flags, Fd& out, mode_t mode = 0);

// The directory that holds `relative`'s last component, opened beneath `dir` (O_PATH: good
// for the *at calls below), and that component's name. For a single name: `dir` itself, dup'ed.
int open_parent_beneath(int dir, std::string_view relative, Fd& parent, std::string& name);

// fstatat(parent, name) without following a symlink: 0 and `st`, or the errno.
int stat_at(int parent, const std::string& name, struct stat& st);

// Removes `name` from `parent` if it is still `expected` (when known) and of the kind asked
// (a directory for AT_REMOVEDIR in `flags`, anything else otherwise: ENOTDIR / EISDIR).
int unlink_checked(int parent, const std::string& name, ObjectId expected, int flags);

// Renames parent/name to to_parent/to_name if the source is still `expected` (when known) and
// the target does not exist (EEXIST: renameat2 RENAME_NOREPLACE, no window).
int rename_checked(int parent, const std::string& name, ObjectId expected, int to_parent,
                   const std::string& to_name);

// Opens (O_PATH | O_DIRECTORY) the directory `relative` beneath `dir`, creating each missing
// component with `mode`, one at a time relative to the one before, never through a symlink.
// `before_make` is told the relative path of each directory just before it is created (so
// that the caller can expect the watcher's report of it); `made` gets those that this call
// created, outermost first. An empty `relative` is `dir` itself.
int make_dirs_beneath(int dir, std::string_view relative, mode_t mode, Fd& out,
                      std::vector<std::string>& made,
                      const std::function<void(const std::string&)>& before_make = {});

}  // namespace folderhook::agent
