// The Agent, internal to agent/: included only by agent.cpp, agent_pipeline.cpp and
// agent_accounts.cpp, which hold its parts. agent.cpp: its life on the loop (start, the watch backend, signals, the heartbeat,
// the rules file's reload, stop); agent_pipeline.cpp: what it hands to the dispatcher (the
// watcher's actions and catch-up, through the submission pipeline, and the folder behaviors).
//
// One Agent per run_agent() call, on its stack. It owns the loop and every handle on it; each
// handle is closed before the loop is closed. Every member runs on the loop's thread, but for
// the thread-pool halves of the pipeline's upload work and of BehaviorJob, which touch only
// their batch or job and the RobotLedger.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/accounts_watch.h"
#include "agent/behaviors.h"
#include "agent/config.h"
#include "agent/expect_runner.h"
#include "agent/folder_links.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/status_server.h"
#include "agent/submission_pipeline.h"
#include "agent/upload.h"
#include "delivery/dispatcher.h"
#include "watch/watcher.h"

namespace folderhook::agent::detail {

class Agent {
 public:
  Agent(Config config, Log& log) : config_(std::move(config)), log_(log) {}

  // Runs the loop until SIGINT or SIGTERM: run_agent()'s exit code.
  int run();

 private:
  // Folder behaviors run on libuv's thread pool with a copy of the rules; their results come
  // back to the loop in after_behaviors(). One run at a time: a slow run skips timer ticks.
  struct BehaviorJob {
    uv_work_t work{};
    Agent* agent = nullptr;
    std::vector<FolderRule> folders;  // as watched: paths and `to`s in the watched directories
    FolderLinks links;                // to name the runs' folders as the rules do
    std::string robot_username;
    std::string state_dir;
    std::vector<watch::FileAction> done;
    std::vector<BehaviorRun> runs;
  };

  // agent.cpp
  // Logs why the agent does not start, and says it on stderr too when the log goes to a file:
  // whoever started it must see why without looking for the log. Returns the exit code, 2.
  int cannot_start(std::string_view msg, const std::string& error);
  void watching();
  void log_links(const FolderLinks& links, const FolderLinks& before);
  delivery::DispatcherOptions dispatcher_options() const;
  std::unique_ptr<watch::Watcher> start_watcher(watch::WatchOptions options, std::string& error);
  Logger logger();
  // The dispatcher's attempt lines, which also feed the attempt metrics.
  delivery::AttemptLogger attempt_logger();
  void beat();
  // The watcher's and the dispatcher's figures into metrics_ (for the status server).
  void refresh_metrics();
  void reload(std::string_view why);
  void start_signal(uv_signal_t& handle, int signum);
  void stop(int signum);

  // agent_pipeline.cpp
  watch::CatchUpOptions catch_up_options();
  void on_actions(std::vector<watch::FileAction>&& actions, bool robot = false);
  // The submission pipeline, made once the dispatcher is open: uploads read on the thread pool.
  void start_pipeline();
  void ready();
  bool has_behaviors() const;
  void start_behaviors();
  void after_behaviors();

  // agent_accounts.cpp: [accounts] (users and groups), through the same pipeline.
  void start_accounts();
  void on_account_changes(std::vector<AccountChange>&& changes, bool catch_up,
                          AccountsWatch::Commit commit);

  Config config_;
  // Each folder of config_ and the directory watched for it (a folder given as a symlink is
  // watched as its target). The watcher, the index, the RobotLedger and the file reads speak
  // watched paths; routing and the webhooks speak the rules' names (on_actions maps them).
  FolderLinks links_;
  Log& log_;
  Metrics metrics_;
  uv_loop_t loop_{};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  uv_signal_t sighup_{};
  uv_timer_t heartbeat_{};
  uv_fs_poll_t rules_poll_{};
  uv_timer_t behavior_timer_{};
  std::unique_ptr<BehaviorJob> behavior_job_;
  RobotLedger robot_ledger_;
  std::unique_ptr<delivery::Dispatcher> dispatcher_;
  // Everything handed to dispatcher_ goes through it, in the order the operations happened.
  std::unique_ptr<SubmissionPipeline> pipeline_;
  std::unique_ptr<StatusServer> status_;
  std::unique_ptr<watch::Watcher> watcher_;
  std::unique_ptr<AccountsWatch> accounts_;  // with [accounts] only
  // [[folder.expect]]: made before the watcher starts (the start catch-up's files count).
  std::unique_ptr<ExpectRunner> expect_;
  bool stopping_ = false;
  // fanotify: watching from the start (its marks), before the catch-up is out.
  bool live_at_start_ = false;
  // A reload changed the folder list during the start catch-up: applied once it is out.
  bool roots_waiting_ = false;
};

}  // namespace folderhook::agent::detail
