// A tmpfs mounted on a directory for a test's life (root only): a file system where creating
// a file costs the writer almost nothing, or one small enough for a test to fill.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace folderhook::test {

class Tmpfs {
 public:
  // `options` as for mount -o, e.g. "size=256m" or "size=4m,mode=0700".
  Tmpfs(const std::string& dir, const std::string& options) : dir_(dir) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      why_ = std::string("mount -t tmpfs: ") + std::strerror(errno);
    }
  }
  ~Tmpfs() {
    if (why_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  // Empty when mounted; else why not (the test then says it was skipped).
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  std::string why_;
};

}  // namespace folderhook::test
