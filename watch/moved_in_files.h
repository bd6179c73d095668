// MovedInFiles: regular files moved in from outside every folder, already reported (create or
// update) at their MOVED_TO. A descriptor opened before the rename may still close them: nginx
// renames a WebDAV PUT's body from its temp directory onto the target, then closes it. Such a
// close is no new write while the content is what the create described. Pure bookkeeping: no
// I/O, time comes in as arguments.
//
// Owned by ActionBuilder; called on its thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace folderhook::watch {

class MovedInFiles {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // `keep`: how long a file is remembered; long past any close that follows a rename at once.
  explicit MovedInFiles(std::chrono::steady_clock::duration keep) : keep_(keep) {}

  // `path` moved in and was reported with this size and mtime.
  void moved_in(const std::string& path, uint64_t size, int64_t mtime_ns, SteadyTime now);
  // An OPEN of `path`: its next close is that opener's, a write like any other.
  void opened(const std::string& path) {
    if (!files_.empty()) files_.erase(path);
  }
  // A CLOSE_WRITE of `path`, which now has this size and mtime: true when it says nothing the
  // report at its MOVED_TO did not. A changed content is a write; the baseline moves on to it.
  bool close_adds_nothing(const std::string& path, uint64_t size, int64_t mtime_ns);
  // After lost records: an OPEN may have been lost, so every next close is a write.
  void forget_all() { files_.clear(); }
  void trim(SteadyTime now);

 private:
  struct Seen {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    SteadyTime expires;
  };
  std::chrono::steady_clock::duration keep_;
  std::map<std::string, Seen> files_;
};

}  // namespace folderhook::watch
