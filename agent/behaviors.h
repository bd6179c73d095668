// Folder behaviors: operations the agent performs itself (retention, move_after), reported
// with interface=robot. Planning is pure; executing touches the disk and runs on a worker
// thread, never on the loop.
//
// Exactly-once reporting: the worker reports each operation it performed itself (so a backend
// that cannot see the agent's own operations, such as fanotify excluding its own pid, misses
// nothing), and registers it in the RobotLedger *before* the system call, so that the
// watcher's report of the same operation is recognised and dropped (so inotify does not report
// it a second time with the folder's interface).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/beneath.h"
#include "agent/config.h"
#include "watch/file_action.h"

namespace folderhook::agent {

struct ListedEntry {
  ListedEntry(std::string path, bool is_dir, int64_t mtime_s, ObjectId id = {})
      : path(std::move(path)), is_dir(is_dir), mtime_s(mtime_s), id(id) {}
  std::string path;  // absolute
  bool is_dir = false;
  int64_t mtime_s = 0;
  ObjectId id;  // what was listed there: the object an operation on `path` must still find
};

struct PlannedOp {
  enum class Kind { kDelete, kMove, kRemoveDir };
  Kind kind = Kind::kDelete;
  std::string path;
  std::string destination;  // kMove only
  ObjectId id;              // the listed object at `path`
};

// What `behavior` of `folder` would do now, given every entry under the folder (directories
// included, symlinks as entries, never followed). Deletes and moves first, in path order; then
// the directories that would be left empty, deepest first (remove_empty_dirs). Never touches
// the folder itself, nor anything under a move_after's `to`.
std::vector<PlannedOp> plan_behavior(const FolderRule& folder, const Behavior& behavior,
                                     const std::vector<ListedEntry>& entries,
                                     std::chrono::system_clock::time_point now);

// Lists everything under the folder `root` (symlinks are entries, never followed), each
// directory opened beneath it (beneath.h). Unreadable directories, and directories swapped
// for a symlink meanwhile, are skipped and named in `errors`.
std::vector<ListedEntry> list_tree(const std::string& root, std::vector<std::string>& errors);

// Thread-safe record of the operations the agent is performing itself: behaviors' deletes and
// moves, and the reads of files it uploads (file_field).
class RobotLedger {
 public:
  static constexpr std::chrono::seconds kExpiry{60};
  // For a move, the watcher may also name it destroy(path) + create(destination) (a file moved
  // into a directory so new that it was not watched yet, then found by its scan): those forms
  // are expected too, and claiming one form forgets the move.
  void expect(watch::Action action, const std::string& path, const std::string& destination = "");
  void forget(watch::Action action, const std::string& path, const std::string& destination = "");
  // True (and the expectation is used up) when `action` is one the agent performed itself.
  bool claim(const watch::FileAction& action);
  // A backend that never reports the agent's own operations (fanotify drops its pid): nothing
  // is expected from then on, so that no expectation waits to swallow someone else's operation.
  void watcher_misses_own_operations() {
    std::lock_guard lock(mutex_);
    disabled_ = true;
    expected_.clear();
  }

 private:
  using Key = std::tuple<watch::Action, std::string, std::string>;
  std::mutex mutex_;
  std::multimap<Key, std::chrono::steady_clock::time_point> expected_;
  bool disabled_ = false;
};

// The outcome of one behavior in one run, for the log and `folderhook status`.
struct BehaviorRun {
  std::string folder;
  size_t index = 0;  // the behavior's position in its folder, from 0
  std::string kind;
  int64_t finished_ms = 0;
  size_t acted = 0;
  std::vector<std::string> errors;
  nlohmann::json to_json() const;
};

// Performs the planned operations of every behavior of every folder. Each operation done is
// appended to `done` as a FileAction (at = when it was done, username = robot_username).
// Every delete, move and mkdir is done beneath the folder (and a move_after's `to` beneath the
// outermost watched folder holding it) through directory descriptors, never by path, and only
// to the object listed (device, inode): a directory swapped for a symlink between the listing
// and the act is an error of the run, and nothing outside the folder is touched.
std::vector<BehaviorRun> run_behaviors(const std::vector<FolderRule>& folders,
                                       const std::string& robot_username, RobotLedger& ledger,
                                       std::vector<watch::FileAction>& done);

// The behaviors.json in state_dir that `folderhook status` reads.
void save_behavior_runs(const std::string& state_dir, const std::vector<BehaviorRun>& runs);
nlohmann::json load_behavior_runs(const std::string& state_dir);

}  // namespace folderhook::agent
