// CatchUpRunner: the catch-up scans of one backend (watch/index.h), shared by inotify and
// fanotify. It runs one scan at a time on libuv's worker pool (at start, and after every queue
// overflow, with backoff while overflows go on), reads the stored index on the same worker
// (CatchUpOptions::read_index: it is not kept in memory between scans), diffs the scan against
// it, and hands the difference to the ActionBuilder. A timer
// writes progress lines while a scan runs and waits out the backoff between rescans.
//
// The start scan comes in two kinds. kBuilderWalk (inotify): the builder's own start() runs
// on the worker, adding the watches as it lists; the builder belongs to the worker until it
// ends. kReadOnly (fanotify, whose filesystem marks are live before the scan): the worker
// only stats and lists, and the builder stays on the loop.
//
// A first start (watcher.h: CatchUpOptions::index_batch) records its walk in bounded batches as
// it goes: the worker hands each full batch to the loop (uv_async) and waits until the one
// before is stored; the loop passes it to on_index() and asks after_index() for the word.
//
// Either way the engine starts reading its kernel descriptor only when go_live() is called,
// after the start catch-up is out, so that every live record is news relative to the scan
// (the kernel queues them meanwhile). The kReadOnly scan's worker sifts that queue as it lists
// (Hooks::sift): its own listings are records too, and would overflow it on a large tree.
// Loop thread only, except the job's own worker.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "watch/action_builder.h"
#include "watch/index.h"
#include "watch/watcher.h"

namespace folderhook::watch {

class CatchUpRunner {
 public:
  enum class StartKind { kBuilderWalk, kReadOnly };

  // What the runner needs from its engine.
  struct Hooks {
    std::function<void()> hold;     // one more thing keeps the engine alive (a job, the timer)
    std::function<void()> release;  // and one less; the last release deletes the engine
    std::function<void()> drain;    // read what the kernel queued, and deliver it
    std::function<bool(std::string& error)> go_live;  // start reading the kernel descriptor
    // Worker, during a kReadOnly start scan (FileSystem::sift_queue, every kSiftEvery
    // directories): take our own listings off the kernel queue, keeping every other record,
    // in order, for go_live. Nothing else reads the descriptor before go_live.
    std::function<void()> sift;
  };

  CatchUpRunner(uv_loop_t* loop, ActionBuilder& builder, Logger logger, CatchUpOptions options,
                std::vector<std::string> ignore, Hooks hooks);
  CatchUpRunner(const CatchUpRunner&) = delete;
  CatchUpRunner& operator=(const CatchUpRunner&) = delete;

  bool enabled() const { return options_.enabled; }
  // Initialises the timer and the batch handover (holding the engine until close()).
  void init();
  // Queues the start scan. kBuilderWalk: the builder must not have been started.
  bool start(StartKind kind, std::string& error);
  // Hands the options back: only before a successful start(), for an engine that could not
  // start (the caller tries another backend with them).
  CatchUpOptions give_back() { return std::move(options_); }
  // Cancels a scan in flight (its completion releases the engine) and closes the timer.
  void close();

  // Folders new in the rules (ActionBuilder::set_roots has watched them): their catch-up, as at
  // start, while live records go on being read (a difference one of them named is dropped).
  // Queued behind a scan in flight.
  void scan_added(std::vector<std::string> roots);

  // Call after records were fed: an overflow among them asks for a rescan.
  void check_overflow();

  // While the builder walks on a worker, the stats it had before.
  const WatchStats* stats_while_walking() const {
    return job_ != nullptr && job_->builder_walk ? &walking_stats_ : nullptr;
  }
  uint64_t rescans() const { return rescans_; }
  // No scan in flight, none waiting for its timer, no added folder waiting for its catch-up.
  bool idle() const { return job_ == nullptr && !rescan_armed_ && added_roots_.empty(); }
  // The start catch-up is not out yet.
  bool starting() const { return job_ != nullptr && job_->start; }

 private:
  // A first start's batches on their way from the worker to the store. Shared with the store's
  // acknowledgement, which may come on another thread.
  struct Handoff {
    std::mutex mu;
    std::condition_variable cv;
    ScanLog ready;            // handed over by the worker, not yet taken by the loop
    bool has_ready = false;
    bool unstored = false;    // a batch is handed over and not yet stored
    bool cancelled = false;   // close(): the worker hands over nothing more and waits no more
  };

  // One catch-up scan in flight: at start or after an overflow. The runner owns it; the worker
  // touches only the job (and, with kBuilderWalk, the builder).
  struct Job {
    uv_work_t req{};
    CatchUpRunner* runner = nullptr;
    bool start = false;
    bool builder_walk = false;
    bool added = false;  // the catch-up of folders new in the rules
    Timestamp began;
    CatchUpOptions::IndexReader read_index;  // taken on the loop as the job is queued
    Index baseline;  // worker: the stored index the scan is diffed against
    std::set<std::string> indexed;
    bool report_unindexed = false;
    std::vector<std::string> roots;
    std::vector<std::string> ignore;
    std::vector<std::string> permission_roots;  // the builder's, as the job is queued
    std::function<void()> sift;  // a kReadOnly start scan's (Hooks::sift), else empty
    std::atomic<uint64_t> expected{0};  // entries in the baseline: the progress estimate
    CatchUp result;
    ScanLog first_sight;  // a start walk of folders never indexed: only to be recorded
    // A start scan's handover (null for other scans), used when it is a first start's: the
    // walk's batches. The loop sends reset_roots with the first.
    std::shared_ptr<Handoff> handoff;
    size_t batch_limit = 0;
    uint64_t handed = 0;      // worker: entries handed over so far
    bool reset_sent = false;  // loop
    std::vector<std::string> dirs;  // directories found, parents first
    uint64_t found = 0;
    std::string error;
    ScanProgress progress;
    std::atomic<bool> cancel{false};
  };

  bool queue(std::unique_ptr<Job>& job, std::string& error);
  static void run_job(uv_work_t* req);
  static void job_done(uv_work_t* req, int status);
  static void on_timer(uv_timer_t* handle);
  static void on_batch(uv_async_t* handle);
  void hand_over(Job& job, ScanLog&& batch);  // worker
  static void wait_stored(Handoff& handoff);  // worker
  void finish_walk_start(Job& job);
  void finish_scan(Job& job);
  // Reads what the kernel queued, delivers it, and looks for an overflow record among it.
  void drain();
  void request_rescan();
  void start_rescan();
  void start_next();  // a queued catch-up of added folders, else a rescan that waits
  void log_progress() const;
  nlohmann::json scan_fields(const Job& job, size_t reported) const;
  // Nothing may throw through a libuv callback.
  template <typename F>
  void guard(F&& body) {
    try {
      body();
    } catch (const std::exception& e) {
      logger_("error", "catch-up failed", {{"error", e.what()}});
    } catch (...) {
      logger_("error", "catch-up failed", {{"error", "unknown exception"}});
    }
  }

  uv_loop_t* loop_;
  ActionBuilder& builder_;
  Logger logger_;
  CatchUpOptions options_;
  std::vector<std::string> ignore_;
  Hooks hooks_;
  uv_timer_t timer_{};
  uv_async_t batch_ready_{};  // the worker handed over a batch
  bool closing_ = false;
  Job* job_ = nullptr;  // the scan in flight
  WatchStats walking_stats_;
  uint64_t overflows_seen_ = 0;
  uint64_t rescans_ = 0;
  bool rescan_armed_ = false;  // the timer waits to start a rescan
  bool rescan_again_ = false;  // an overflow happened during the scan in flight
  std::vector<std::string> added_roots_;  // new folders waiting for their catch-up
  std::chrono::milliseconds backoff_{250};
};

}  // namespace folderhook::watch
