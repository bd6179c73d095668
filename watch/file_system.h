// FileSystem: every system call the ActionBuilder needs, behind one small interface so that
// unit tests drive the builder with an in-memory fake; both backends implement it (inotify:
// real_file_system.h, fanotify: fanotify_file_system.h). What only one backend has stays off
// it (inotify's markers: read_markers.h). Called only on the loop thread, except stat(),
// list(), list_stat() and permissions(), which a scan may call from a worker thread (the real
// ones keep no state), and sift_queue(), which the start walk calls on whichever thread runs it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "watch/permissions.h"

namespace folderhook::watch {

// A walk whose listings the kernel queue sees lets the FileSystem sift the queue after this
// many directories (FileSystem::sift_queue).
inline constexpr std::size_t kSiftEvery = 64;

enum class FileKind : uint8_t { kRegular, kDirectory, kSymlink, kOther };

struct FileInfo {
  FileKind kind = FileKind::kRegular;
  uid_t uid = 0;
  uint64_t size = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint32_t mode = 0;  // the permission bits (st_mode & 07777)
  gid_t gid = 0;
};

// One entry of a directory with its lstat.
struct DirEntry {
  std::string name;
  FileInfo info;
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
  // The entries of `dir` that still exist, each with its lstat, sorted by name: what a walk
  // needs of one directory. The real one opens the directory once and stats relative to it;
  // this default is list() then stat() of each.
  virtual std::vector<DirEntry> list_stat(const std::string& dir);
  // Called every kSiftEvery directories during a walk that nothing reads the queue behind (the
  // builder's, at start or on the loop, or the read-only scan_tree()/record_tree() of a
  // fanotify start), whose own listings make the kernel queue records (a directory's open and
  // close) that name no operation: a backend may take them off the queue before it overflows,
  // keeping every other record for later, in order.
  virtual void sift_queue() {}
  // Whether add_watch() and list_stat() may be called from several threads at once, as the
  // start walk does when it shares its work (ParallelWalk).
  virtual bool concurrent_walk() const { return false; }
  // A fast hash of the whole content of a regular file; nullopt when unreadable or too large.
  // The read it does shows up as OPEN/CLOSE_NOWRITE records that the builder swallows.
  virtual std::optional<uint64_t> hash(const std::string& path) = 0;
  // The user name of `uid`, or the uid as digits when it has none.
  virtual std::string user_name(uid_t uid) = 0;
  // The group name of `gid`, or the gid as digits when it has none (this default).
  virtual std::string group_name(gid_t gid);
  // The mode, owner, group and ACL of `path`, which lies beneath the folder `root`, read without
  // following a symlink anywhere below `root` and without opening the object for reading (no
  // read to report); nullopt when it is gone or cannot be read. This default: stat(), no ACL.
  virtual std::optional<Permissions> permissions(const std::string& root, const std::string& path);
  // The current fs.inotify.max_user_watches, or 0 when unknown (only for the ENOSPC message).
  virtual uint64_t max_user_watches() = 0;
};

}  // namespace folderhook::watch
