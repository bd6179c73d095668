// Watcher: the public face of watch/. Owns the kernel descriptors of one backend, the recursive
// watch table and the ActionBuilder, and hands finished FileActions to a sink.
//
// Threading: created, used and closed on the thread that runs `loop`; the sink and the logger
// are called on that thread too. Nothing here blocks the loop for long.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/logger.h"
#include "watch/file_action.h"
#include "watch/index.h"

namespace folderhook::watch {

using ActionSink = std::function<void(std::vector<FileAction>&& actions)>;

struct RootOptions {
  std::string path;                        // absolute, normalised (no trailing slash)
  // Globs (watch/glob.h) on the file name of uploads via temp names; empty: none. Taken from
  // the deepest root that contains the file.
  std::vector<std::string> temp_patterns;
  // Report changes of mode, owner, group or ACL of what lies beneath it (FileAction::permission).
  // Only then are attribute events subscribed to and each object's permissions kept.
  bool permissions = false;
};

// Index changes that no action carries: refreshed metadata, and roots indexed for the first
// time (their contents arrive as refreshed entries).
struct IndexUpdate {
  // Folders never indexed whose stored rows (a first start killed mid-walk) are to be dropped,
  // beneath them included: before everything else.
  std::vector<std::string> reset_roots;
  std::vector<std::pair<std::string, IndexEntry>> entries;
  ScanLog recorded;  // more entries: a first start walk's, in walk order (the store puts each)
  std::vector<std::string> indexed_roots;
  // Directories whose listing the next scan must read again (their ctime is forgotten): the
  // catch-up dropped something in them that a live record named meanwhile. After `entries`.
  std::vector<std::string> relist;
};

// Never lose an operation (watch/index.h). Off: start() walks the folders before it returns
// and an overflow is only logged, counted and handed to WatchOptions::on_overflow. On: the walk
// runs on a worker, its scan is diffed against `index` and the difference reported (catch_up
// set) before any live action; an overflow rescans every root on a worker and reports what the
// lost records hid. Every action then carries the FileMeta the index needs: the caller keeps
// its stored index current with what each action does to it and with on_index(), and
// read_index reads it back for each scan (the index is not held in memory between scans).
struct CatchUpOptions {
  using IndexReader = std::function<std::optional<Index>(std::string& error)>;

  bool enabled = false;
  // Called on the loop thread as a scan is queued. The reader it returns runs on the scan's
  // worker and gives the stored index as of that call: every on_index() update and every action
  // handed to the sink before it included (it may wait for the store to catch up). nullopt and
  // `error` when the index cannot be read. Empty: nothing is stored (every scan starts empty).
  std::function<IndexReader()> read_index;
  std::set<std::string> indexed_roots;  // roots whose index exists
  bool report_unindexed = false;        // a root never indexed: report what is in it as created
  std::function<void(IndexUpdate&&)> on_index;  // loop thread; before the actions of a scan
  // A first start (no folder indexed, nothing to report) records its walk while it runs, in
  // on_index() updates of at most `index_batch` entries; the last one names the folders
  // indexed, so a start killed mid-walk leaves them unindexed (the next start drops their rows:
  // reset_roots). Before it hands over a batch the walk waits for after_index to say the one
  // before is stored, so at most two batches exist at once whatever the tree's size. 0: one
  // update after the walk. The default's measurements: README, start-up memory.
  size_t index_batch = 4096;
  // Loop thread, after an on_index(): calls `stored` (on any thread, once) when everything
  // handed to on_index() so far is stored, or could not be. Empty: the walk does not wait.
  std::function<void(std::function<void()> stored)> after_index;
  std::function<void()> on_ready;       // loop thread: the start catch-up is out, live from here
  std::chrono::milliseconds progress_interval{5000};  // progress lines while a scan runs
  std::chrono::milliseconds rescan_backoff_min{250};  // first wait after an overflow
  std::chrono::milliseconds rescan_backoff_max{30000};  // doubles while overflows go on
};

struct WatchOptions {
  std::vector<RootOptions> roots;           // may nest or repeat; each directory is watched once
  std::vector<std::string> ignore_paths;    // absolute; never reported (the agent's state_dir)
  // Links and special files are named after it; a closed file only while another descriptor
  // is open on it (its writes inside the window are one operation); others at their close.
  std::chrono::milliseconds settle{200};
  std::chrono::milliseconds move_pairing{250};  // MOVED_FROM without MOVED_TO -> destroy after this
  // While records keep coming, the loop reads the kernel's queue at most twice per this
  // (engine_shell.h); after a quiet moment, at once. Longer only in tests.
  std::chrono::milliseconds read_gap{1};
  // Called on the loop thread after an IN_Q_OVERFLOW (already logged and counted): operations
  // were lost and only a rescan against the index can name them. May be empty.
  std::function<void()> on_overflow;
  // fanotify only: interface -> process names (comm or executable basename) that mean it. An
  // event's process, then its parents, are matched in this order; no match: "" (the folder's).
  std::vector<std::pair<std::string, std::vector<std::string>>> interfaces;
  // fanotify only, for tests: FAN_MOVED_FROM/FAN_MOVED_TO as on kernels before 5.17.
  bool fanotify_without_rename = false;
  // Never lose an operation: the catch-up at start and the rescans after overflows.
  CatchUpOptions catch_up;
  // inotify: threads that share the start walk with the one running it; unset: one per
  // further core, at most three (ParallelWalk::default_helpers()). 0: the walk is one thread.
  std::optional<std::size_t> walk_helpers;
};

// Whether some folder reports permission changes: only then do the engines ask the kernel for
// attribute events.
inline bool any_permissions(const std::vector<RootOptions>& roots) {
  for (const RootOptions& root : roots) {
    if (root.permissions) return true;
  }
  return false;
}

struct WatchStats {
  uint64_t watches = 0;
  uint64_t overflows = 0;
  uint64_t rescans = 0;  // catch-up scans after overflows, completed
  uint64_t events = 0;
  bool degraded = false;  // some directory could not be watched (ENOSPC, ...)
  uint64_t marks = 0;     // fanotify: filesystems marked
  bool indexing = false;  // fanotify: the index of the watched trees is still being built
  uint64_t missing_roots = 0;  // watched folders that do not exist (looked for again)
  uint64_t actors_gone = 0;    // fanotify: events whose process was gone before its lookup
  uint64_t reads = 0;  // times the loop woke to read the kernel's queue (WatchOptions::read_gap)
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Stops reading, closes every handle, and calls `done` from the last close callback.
  virtual void close(std::function<void()> done) = 0;
  virtual WatchStats stats() const = 0;
  // Changes the folders (a reload of the rules): new ones are watched and caught up against
  // the index as at start (CatchUpOptions::on_index names them indexed), gone ones are
  // forgotten without a report, and temp_patterns change for all. What was already read is
  // named under the old list first. false and `error` while the start catch-up still runs (try
  // again after on_ready) or after close().
  virtual bool set_roots(std::vector<RootOptions> roots, std::string& error) = 0;
};

// Starts watching. On failure returns nullptr and sets `error` (one line, for the operator).
std::unique_ptr<Watcher> start_inotify_watcher(uv_loop_t* loop, WatchOptions options,
                                               ActionSink sink, Logger logger,
                                               std::string& error);

// Starts watching through fanotify: one FAN_MARK_FILESYSTEM per filesystem that holds a root,
// every event tagged with its actor (FileAction::actor_*). Every operation is seen from the
// moment it returns (the marks are placed); the builder's own view of what exists is built in
// the background (WatchStats::indexing). With the catch-up on, its scan runs on a worker and
// the events queue in the kernel until the catch-up is out (then on_ready). Takes the
// catch-up (its index) out of `options`; on failure puts it back, returns nullptr and sets
// `error` to the reason (kernel too old, no CAP_SYS_ADMIN, a filesystem that refuses the mark).
std::unique_ptr<Watcher> start_fanotify_watcher(uv_loop_t* loop, WatchOptions& options,
                                                ActionSink sink, Logger logger,
                                                std::string& error);

}  // namespace folderhook::watch
