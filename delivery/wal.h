// The outbox's write-ahead log, kept off the writer thread's path. Two helpers, each with its
// own thread, so that a commit costs the writer the write() of its frames and nothing more:
//
// WalSyncer makes commits durable against a power cut. The writer connection commits with
// synchronous=NORMAL (a commit is in the kernel when it returns: killing the agent cannot
// lose it) and wakes the syncer, which fdatasync()s the WAL file while the first attempts go
// out. Sending before the sync does not widen the window in which a power cut loses an
// operation: it was in memory from its system call until the sync either way. A request sent
// and then lost to a power cut is found again by the catch-up (at least once). Syncs start at
// least `min_gap` apart: the commits of a busy moment share one, where a sync each cost a
// burst more CPU than its requests' HTTP (fdatasync's own work, in the kernel).
//
// Checkpointer copies the WAL back into the database on its own connection. SQLite's automatic
// checkpoint runs inside the commit that crosses its threshold (1,000 pages), and its writes
// and fsyncs then delay every request submitted behind that commit. The writer's automatic
// checkpoint is turned off and replaced by a WAL hook that wakes this thread once
// `threshold_pages` frames have been added since the last checkpoint. Checkpoints are
// PASSIVE: they never block the writer or a reader, and copy what they can.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/logger.h"

struct sqlite3;

namespace folderhook::delivery {

class WalSyncer {
 public:
  // The least time from the start of one sync to the start of the next: what a power cut can
  // lose grows by at most this much; nothing waits for it (a flush does not).
  static constexpr std::chrono::milliseconds kMinGap{5};

  // Opens `wal_path` (which must exist: the database is in WAL mode and has been read).
  static std::unique_ptr<WalSyncer> start(std::string wal_path, Logger logger, std::string& error,
                                          std::chrono::milliseconds min_gap = kMinGap);
  // Syncs what is pending, then stops the thread.
  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // Writer thread, after a commit that must survive a power cut: returns at once; the WAL is
  // synced once the sync in progress (if any) is done and `min_gap` has passed since it began,
  // one sync for every commit since.
  void request();
  // Blocks until every commit requested before the call is synced, without the gap. For tests
  // and shutdown.
  void flush();
  // fdatasync() calls made, for tests and the stop log line.
  uint64_t syncs() const { return syncs_.load(); }
  // fsync() calls on the WAL's directory: one for each WAL file (its name must survive too).
  uint64_t entry_syncs() const { return entry_syncs_.load(); }

 private:
  WalSyncer(std::string wal_path, int fd, Logger logger, std::chrono::milliseconds min_gap);
  void run();
  bool sync_once();  // thread only
  bool sync_entry();  // thread only: fsync of the WAL's directory

  const std::string path_;
  const std::chrono::milliseconds min_gap_;
  int fd_;  // thread only after start; reopened when the WAL file is replaced
  bool entry_synced_ = false;  // thread only: the directory was synced since fd_ was opened
  Logger logger_;
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> entry_syncs_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0;  // guarded by mu_: requests made
  uint64_t synced_ = 0;     // guarded by mu_: requests covered by a finished sync
  int flushing_ = 0;        // guarded by mu_: flush() calls waiting, which skip the gap
  bool stopping_ = false;
  std::string last_error_;  // thread only
  std::thread thread_;
};

class Checkpointer {
 public:
  // Opens its own connection to `db_path` and takes checkpointing over from `writer` (whose
  // wal hook it replaces). nullptr and `error` when the connection cannot be opened; the
  // writer then keeps SQLite's automatic checkpoint.
  static std::unique_ptr<Checkpointer> start(const std::string& db_path, sqlite3* writer,
                                             Logger logger, std::string& error,
                                             int threshold_pages = 1000);
  // Stops the thread (after the checkpoint in progress, if any) and closes the connection.
  // The writer connection must still be open: its automatic checkpoint is restored.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Checkpoints that copied at least one frame, for tests and the stop log line.
  uint64_t checkpoints() const { return checkpoints_.load(); }

 private:
  Checkpointer(sqlite3* own, sqlite3* writer, Logger logger, int threshold_pages);
  static int on_wal(void* self, sqlite3* db, const char* name, int frames);
  void run();

  sqlite3* own_;
  sqlite3* writer_;
  Logger logger_;
  const int threshold_;
  // Frames of the WAL already copied into the database (by the last checkpoint); the writer's
  // hook compares the WAL's size with it. Reset when the writer restarts the WAL.
  std::atomic<int> copied_{0};
  std::atomic<uint64_t> checkpoints_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::string last_error_;  // thread only: the last failure logged, to log each kind once
  std::thread thread_;
};

}  // namespace folderhook::delivery
