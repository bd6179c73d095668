// FileSystem: every system call the ActionBuilder needs, behind one small interface so that
// unit tests drive the builder with an in-memory fake. The real one (real_file_system.h) talks
// to inotify and the disk. Called only on the loop thread, except stat() and list(), which a
// scan may call from a worker thread (the real ones keep no state).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace folderhook::watch {

enum class FileKind { kRegular, kDirectory, kSymlink, kOther };

struct FileInfo {
  FileKind kind = FileKind::kRegular;
  uid_t uid = 0;
  uint64_t size = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Adds an inotify watch on the directory `dir` (never through a symlink). Returns the wd, or
  // -errno (-ENOSPC when fs.inotify.max_user_watches is reached).
  virtual int add_watch(const std::string& dir) = 0;
  virtual void remove_watch(int wd) = 0;
  // lstat: a symlink is reported as itself, never followed.
  virtual std::optional<FileInfo> stat(const std::string& path) = 0;
  // Entry names of `dir` (no "." or ".."), sorted; empty when it cannot be read.
  virtual std::vector<std::string> list(const std::string& dir) = 0;
  // A fast hash of the whole content of a regular file; nullopt when unreadable or too large.
  // The read it does shows up as OPEN/CLOSE_NOWRITE records that the builder swallows.
  virtual std::optional<uint64_t> hash(const std::string& path) = 0;
  // The user name of `uid`, or the uid as digits when it has none.
  virtual std::string user_name(uid_t uid) = 0;
  // The current fs.inotify.max_user_watches, or 0 when unknown (only for the ENOSPC message).
  virtual uint64_t max_user_watches() = 0;
};

}  // namespace folderhook::watch
