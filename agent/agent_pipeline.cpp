// The Agent's hand-off to the dispatcher (agent_loop.h): the watcher's actions and catch-up,
// routed into batches that reach the dispatcher in the order they happened, and the folder
// behaviors, whose own operations come back as actions of interface robot.
#include <algorithm>
#include <memory>
#include <optional>

#include "agent/agent_loop.h"
#include "agent/folder_links.h"
#include "agent/index_read.h"
#include "agent/index_sync.h"
#include "agent/router.h"
#include "agent/upload.h"
#include "agent/webhook.h"

namespace folderhook::agent::detail {

// Catch-up after downtime and after overflows: the index as stored, kept current through
// on_actions() and on_index, in the outbox's transactions.
watch::CatchUpOptions Agent::catch_up_options() {
  // The expectations first: the catch-up's actions (what changed while the agent was stopped)
  // are their evidence for the deadlines that passed meanwhile, judged in ready().
  expect_ = std::make_unique<ExpectRunner>(
      &loop_, log_,
      [this](std::vector<delivery::Request>&& alerts) {
        SubmissionBatch batch;  // through the pipeline: after the operations before them
        batch.requests = std::move(alerts);
        pipeline_->push(std::move(batch));
      },
      config_.state_dir);
  expect_->set_config(config_);
  watch::CatchUpOptions o;
  o.enabled = true;
  delivery::IndexSnapshot stored = dispatcher_->take_index();
  o.indexed_roots.insert(stored.indexed_roots.begin(), stored.indexed_roots.end());
  o.read_index = [this] {
    // Through the pipeline: read after the index changes of every batch before it.
    IndexReadHandoff handoff = make_index_read();
    SubmissionBatch batch;
    batch.read_index = std::move(handoff.answer);
    pipeline_->push(std::move(batch));
    return std::move(handoff.reader);
  };
  o.report_unindexed = config_.initial_scan_report;
  o.on_index = [this](watch::IndexUpdate&& update) {
    // Through the pipeline: after the index changes of the actions before it.
    SubmissionBatch batch;
    batch.index_changes = index_changes(std::move(update));
    pipeline_->push(std::move(batch));
  };
  o.after_index = [this](std::function<void()> stored) {
    // Through the pipeline too: once everything before it is committed (or failed to be).
    SubmissionBatch batch;
    batch.after_commit = [stored = std::move(stored)](bool) { stored(); };
    pipeline_->push(std::move(batch));
  };
  o.on_ready = [this] {
    beat();  // the watches now exist: the metrics say so at once
    if (!live_at_start_) watching();
    ready();
    if (roots_waiting_) {
      roots_waiting_ = false;
      reload("a folder list change waited for the start catch-up");
    }
  };
  return o;
}

// `robot`: operations the agent performed itself (folder behaviors): interface=robot, and
// the watcher's own report of each is dropped (RobotLedger).
// `actions` name watched paths (links_), as the index and the RobotLedger do; they are routed
// and reported under the rules' names.
void Agent::on_actions(std::vector<watch::FileAction>&& actions, bool robot) {
  SubmissionBatch batch;
  const bool linked = any_folder_link(links_);
  std::optional<watch::FileAction> renamed;
  for (const watch::FileAction& watched : actions) {
    if (!robot && robot_ledger_.claim(watched)) continue;
    metrics_.count_operation(watched.action);
    append_index_changes(watched, batch.index_changes);
    const watch::FileAction& action =
        linked ? renamed.emplace(configured_action(links_, watched)) : watched;
    if (expect_) expect_->on_action(action);
    const auto routes = route(config_.folders, action);
    if (watched.actor_gone_pid != 0 && !routes.empty()) {
      // Said only for what a folder reports: most events of short-lived processes (readers,
      // temp files, paths no folder includes) report nothing, and a line for each was noise.
      log_.write("info",
                 "the process behind an event was gone before it could be looked up: the "
                 "folder's interface and the file's owner stand in",
                 {{"pid", watched.actor_gone_pid}, {"path", action.path}});
    }
    for (const FolderRule* routed : routes) {
      FolderRule as_robot;
      if (robot) {
        as_robot = *routed;
        as_robot.interface = "robot";
        as_robot.username.clear();  // the action carries robot_username
      }
      const FolderRule& rule = robot ? as_robot : *routed;
      batch.requests.push_back(make_request(action, rule, config_.root));
      if (!rule.file_field.empty()) {
        // Read by its watched path, beneath the directory watched for the folder holding it.
        const bool moved =
            action.action == watch::Action::kMove || action.action == watch::Action::kCopy;
        const FolderRule* holder =
            outermost_folder(config_.folders, moved ? action.destination : action.path);
        batch.uploads.push_back({batch.requests.size() - 1, watched,
                                 webhook_fields(action, rule, config_.root), rule.file_field,
                                 rule.max_file_bytes,
                                 holder ? watched_of(links_, holder->path) : ""});
      }
    }
  }
  if (batch.requests.empty() && batch.index_changes.empty()) return;
  pipeline_->push(std::move(batch));
}

// The watcher may report the upload's own read before the work is back on the loop: the
// RobotLedger claims it (on_actions), so it is never delivered.
void Agent::start_pipeline() {
  pipeline_ = std::make_unique<SubmissionPipeline>(
      std::make_unique<DispatcherTarget>(*dispatcher_), thread_pool_of(&loop_),
      [this](SubmissionBatch& batch) {
        for (const PendingUpload& u : batch.uploads) {
          attach_file(batch.requests[u.request], u.action, u.fields, u.field, u.max_bytes,
                      u.folder, robot_ledger_);
        }
      });
}

// The catch-up is out: starts the behaviors (once now, then on the timer).
void Agent::ready() {
  if (expect_ && !stopping_) expect_->start();
  if (has_behaviors() && !stopping_) {
    const auto every = static_cast<uint64_t>(config_.behavior_interval.count());
    uv_timer_start(
        &behavior_timer_, [](uv_timer_t* t) { static_cast<Agent*>(t->data)->start_behaviors(); }, 0,
        every);
  }
}

bool Agent::has_behaviors() const {
  return std::any_of(config_.folders.begin(), config_.folders.end(),
                     [](const FolderRule& f) { return !f.behaviors.empty(); });
}

void Agent::start_behaviors() {
  if (behavior_job_ || stopping_) return;
  behavior_job_ = std::make_unique<BehaviorJob>();
  BehaviorJob& job = *behavior_job_;
  job.work.data = &job;
  job.agent = this;
  // The behaviors act on, and report, the watched directories, as the watcher sees them.
  job.folders = config_.folders;
  for (FolderRule& folder : job.folders) {
    folder.path = watched_of(links_, folder.path);
    for (Behavior& behavior : folder.behaviors) {
      if (!behavior.to.empty()) behavior.to = to_watched(links_, behavior.to);
    }
  }
  job.links = links_;
  job.robot_username = config_.robot_username;
  job.state_dir = config_.state_dir;
  uv_queue_work(
      &loop_, &job.work,
      [](uv_work_t* w) {
        auto& job = *static_cast<BehaviorJob*>(w->data);
        job.runs =
            run_behaviors(job.folders, job.robot_username, job.agent->robot_ledger_, job.done);
        for (BehaviorRun& run : job.runs) run.folder = to_configured(job.links, run.folder);
        save_behavior_runs(job.state_dir, job.runs);
      },
      [](uv_work_t* w, int) { static_cast<BehaviorJob*>(w->data)->agent->after_behaviors(); });
}

void Agent::after_behaviors() {
  std::unique_ptr<BehaviorJob> job = std::move(behavior_job_);
  for (const BehaviorRun& run : job->runs) {
    for (const std::string& error : run.errors) {
      log_.write(
          "warn", "behavior error",
          {{"folder", run.folder}, {"behavior", run.index}, {"kind", run.kind}, {"error", error}});
    }
    if (run.acted > 0 || !run.errors.empty()) {
      log_.write("info", "behavior ran",
                 {{"folder", run.folder},
                  {"behavior", run.index},
                  {"kind", run.kind},
                  {"acted", run.acted},
                  {"errors", run.errors.size()}});
    }
  }
  on_actions(std::move(job->done), /*robot=*/true);
}

}  // namespace folderhook::agent::detail
