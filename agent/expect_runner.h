// ExpectRunner: the expectations ([[folder.expect]]) on the agent's loop. It counts the files
// that arrive, judges each deadline on a libuv timer, and for a missed deadline (and its late
// file) hands an alert Request to the outbox (expect_alert.h) and sends an email through
// [notify]. The records (expect_store.h) are written on libuv's thread pool, one write at a
// time, so the loop never waits on a disk.
//
// A file counts when the action is a create or update of a file at a path, or a move or copy
// of a file to a path, in the folder and matching the expectation's include globs (relative
// to the folder). Its time is when the agent saw it; for what the start catch-up found
// (changed while the agent was stopped) its modification time, when that is earlier.
//
// Owned by the Agent, on the loop's thread. The timer is made by start() and closed by close();
// the object must live until the loop has run the close callback (the Agent outlives its loop)
// and the thread-pool jobs it queued (records, emails) are back (the loop waits for them).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/expect_tracker.h"
#include "agent/log.h"
#include "delivery/request.h"
#include "watch/file_action.h"

namespace folderhook::agent {

class ExpectRunner {
 public:
  using Submit = std::function<void(std::vector<delivery::Request>&&)>;
  // A deadline is judged this long after it passes: a file written just before it is still
  // on its way through the watcher (an upload's close, the pairing of a move).
  static constexpr int64_t kGraceMs = 1000;

  // Reads the stored records (blocking: call it before the loop runs).
  ExpectRunner(uv_loop_t* loop, Log& log, Submit submit, const std::string& state_dir);
  ExpectRunner(const ExpectRunner&) = delete;
  ExpectRunner& operator=(const ExpectRunner&) = delete;

  // The expectations of `config` (at start and at each reload): an expectation still there
  // keeps its state; a new one starts its first window now.
  void set_config(const Config& config);
  // Each action as routed (the rules' names), including the start catch-up's.
  void on_action(const watch::FileAction& action);
  // The start catch-up is out: judges the deadlines that passed while the agent was stopped,
  // then the timer takes over.
  void start();
  void close();

 private:
  struct Tracked {
    const FolderRule* folder = nullptr;  // in config_
    ExpectTracker tracker;
  };
  void judge();
  void arm();
  void send(const Tracked& t, const std::vector<ExpectEvent>& events);
  void persist();

  uv_loop_t* loop_;
  Log& log_;
  Submit submit_;
  std::string state_dir_;
  Config config_;  // the folders the trackers point into, [notify], agent.root
  std::vector<Tracked> tracked_;
  std::vector<ExpectRecord> stored_;  // as last loaded or written
  uv_timer_t timer_{};
  bool started_ = false;
  bool closed_ = false;
  // One write at a time; a change made during it is written after it.
  bool writing_ = false;
  bool write_again_ = false;
};

}  // namespace folderhook::agent
