#include "agent/expect_runner.h"

#include <algorithm>
#include <chrono>

#include "agent/expect_alert.h"
#include "agent/expect_store.h"
#include "agent/router.h"
#include "agent/webhook.h"
#include "delivery/notifier.h"
#include "watch/glob.h"

namespace folderhook::agent {
namespace {

// The timer wakes at least this often, so that a change of the wall clock (the deadlines are
// wall-clock times, the loop's timers are monotonic) is noticed within it.
constexpr int64_t kMaxSleepMs = 60'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t floor_s(int64_t ms) { return ms / 1000 - (ms % 1000 < 0 ? 1 : 0); }

struct WriteJob {
  uv_work_t work{};
  ExpectRunner* runner = nullptr;
  std::string state_dir;
  std::vector<ExpectRecord> records;
  bool ok = false;
  std::string error;
};

struct EmailJob {
  uv_work_t work{};
  Log* log = nullptr;
  delivery::NotifyOptions options;
  std::string message;
  nlohmann::json about;
  delivery::EmailResult result;
};

}  // namespace

ExpectRunner::ExpectRunner(uv_loop_t* loop, Log& log, Submit submit, const std::string& state_dir)
    : loop_(loop), log_(log), submit_(std::move(submit)), state_dir_(state_dir) {
  std::string error;
  if (auto records = load_expect_records(state_dir_, error)) {
    stored_ = std::move(*records);
  } else {
    // Judged as new: their first deadline is the next one. Said, since a deadline that passed
    // while the agent was stopped then goes unjudged.
    log_.write("error", "cannot read the expectations' records; every expectation starts anew",
               {{"error", error}});
  }
}

void ExpectRunner::set_config(const Config& config) {
  std::vector<ExpectRecord> known = stored_;
  for (const Tracked& t : tracked_) known.push_back(t.tracker.record());  // newer: found first below
  std::reverse(known.begin(), known.end());
  config_ = config;
  tracked_.clear();
  const int64_t now_s = floor_s(wall_ms());
  for (const FolderRule& folder : config_.folders) {
    for (const Expectation& e : folder.expects) {
      std::string error;
      auto zone = TimeZone::load(e.timezone, error);
      if (!zone) {  // checked by the parser: only a file removed since
        log_.write("error", "expectation not judged: its time zone cannot be read",
                   {{"folder", folder.path}, {"expectation", e.name}, {"error", error}});
        continue;
      }
      ExpectRecord record;
      const auto it = std::find_if(known.begin(), known.end(), [&](const ExpectRecord& r) {
        return r.folder == folder.path && r.name == e.name;
      });
      if (it != known.end()) record = *it;
      tracked_.push_back({&folder, ExpectTracker(folder.path, e, std::move(*zone), record, now_s)});
    }
  }
  persist();
  if (started_) {
    judge();
  }
}

void ExpectRunner::on_action(const watch::FileAction& action) {
  if (tracked_.empty() || action.type != watch::ObjectType::kFile) return;
  if (action.permission) return;  // a chmod or chown of a file is not its arrival
  const std::string* path = nullptr;
  switch (action.action) {
    case watch::Action::kCreate:
    case watch::Action::kUpdate: path = &action.path; break;
    case watch::Action::kMove:
    case watch::Action::kCopy: path = &action.destination; break;
    default: return;
  }
  int64_t at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      action.at.time_since_epoch()).count();
  if (action.catch_up && action.meta.mtime_ns > 0) {
    // Found by the start scan: it changed while the agent was stopped, last at its mtime.
    at_ms = std::min(at_ms, action.meta.mtime_ns / 1'000'000);
  }
  bool changed = false;
  for (Tracked& t : tracked_) {
    const std::string& folder = t.folder->path;
    if (path->size() <= folder.size() || path->compare(0, folder.size(), folder) != 0 ||
        (*path)[folder.size()] != '/') {
      continue;
    }
    const std::string_view relative = relative_to_folder(folder, *path);
    const auto& include = t.tracker.expectation().include;
    if (!include.empty() && std::none_of(include.begin(), include.end(), [&](const std::string& g) {
          return watch::glob_match(g, relative);
        })) {
      continue;
    }
    const ExpectRecord before = t.tracker.record();
    const auto events = t.tracker.saw(at_ms, *path);
    send(t, events);  // a late file of a deadline missed before a stop: also in the catch-up
    changed = changed || !(before == t.tracker.record());
  }
  if (changed) persist();
}

void ExpectRunner::start() {
  if (started_ || closed_) return;
  started_ = true;
  // The timer exists from here on only: an agent that fails to start never has it to close.
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  judge();
}

void ExpectRunner::close() {
  if (closed_) return;
  closed_ = true;
  if (started_) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void ExpectRunner::judge() {
  if (closed_) return;
  const int64_t now_s = floor_s(wall_ms() - kGraceMs);
  for (Tracked& t : tracked_) {
    int skipped = 0;
    const auto events = t.tracker.judge(now_s, skipped);
    if (skipped > 0) {
      log_.write("warn", "expectation: deadlines passed while the agent was stopped were not judged",
                 {{"folder", t.folder->path},
                  {"expectation", t.tracker.expectation().name},
                  {"skipped", skipped},
                  {"judged", ExpectTracker::kMaxJudgedAtOnce}});
    }
    send(t, events);
  }
  persist();
  arm();
}

void ExpectRunner::arm() {
  if (closed_ || !started_ || tracked_.empty()) return;
  int64_t due_ms = INT64_MAX;
  for (const Tracked& t : tracked_) due_ms = std::min(due_ms, t.tracker.next_due_s() * 1000);
  const int64_t wait = std::clamp<int64_t>(due_ms + kGraceMs - wall_ms(), 1, kMaxSleepMs);
  uv_timer_start(&timer_, [](uv_timer_t* h) { static_cast<ExpectRunner*>(h->data)->judge(); },
                 static_cast<uint64_t>(wait), 0);
}

void ExpectRunner::send(const Tracked& t, const std::vector<ExpectEvent>& events) {
  if (events.empty()) return;
  const Expectation& e = t.tracker.expectation();
  std::vector<delivery::Request> requests;
  for (const ExpectEvent& ev : events) {
    const bool missed = ev.kind == ExpectEvent::Kind::kMissed;
    nlohmann::json fields = {{"folder", t.folder->path},
                             {"expectation", e.name},
                             {"due", format_at(std::chrono::system_clock::time_point(
                                         std::chrono::seconds(ev.due_s)))}};
    if (!missed) fields["path"] = ev.path;
    log_.write(missed ? "warn" : "info",
               missed ? "expectation missed" : "expectation: late file arrived", fields);
    requests.push_back(make_expect_request(*t.folder, e, ev, config_.root));
    if (config_.notify.smtp_url.empty()) continue;
    auto* job = new EmailJob;
    job->work.data = job;
    job->log = &log_;
    job->options.smtp_url = config_.notify.smtp_url;
    job->options.from = config_.notify.from;
    job->options.to = config_.notify.to;
    job->message = build_expect_email(*t.folder, e, ev, config_.root, config_.notify, wall_ms());
    job->about = fields;
    uv_queue_work(
        loop_, &job->work,
        [](uv_work_t* w) {
          auto* job = static_cast<EmailJob*>(w->data);
          job->result = delivery::send_email(job->options, job->message);
        },
        [](uv_work_t* w, int) {
          std::unique_ptr<EmailJob> job(static_cast<EmailJob*>(w->data));
          if (job->result.ok) {
            job->log->write("info", "expectation email sent", job->about);
          } else {
            job->about["error"] = job->result.error;
            job->log->write("error", "expectation email failed", job->about);
          }
        });
  }
  submit_(std::move(requests));
}

void ExpectRunner::persist() {
  std::vector<ExpectRecord> records;
  for (const Tracked& t : tracked_) records.push_back(t.tracker.record());
  // Records of expectations no longer in the rules stay stored: one put back keeps its state.
  for (const ExpectRecord& r : stored_) {
    if (std::none_of(records.begin(), records.end(), [&](const ExpectRecord& x) {
          return x.folder == r.folder && x.name == r.name;
        })) {
      records.push_back(r);
    }
  }
  std::sort(records.begin(), records.end(), [](const ExpectRecord& a, const ExpectRecord& b) {
    return std::tie(a.folder, a.name) < std::tie(b.folder, b.name);
  });
  if (records == stored_) return;
  if (writing_) {
    write_again_ = true;
    return;
  }
  writing_ = true;
  auto* job = new WriteJob;
  job->work.data = job;
  job->runner = this;
  job->state_dir = state_dir_;
  job->records = records;
  stored_ = std::move(records);
  uv_queue_work(
      loop_, &job->work,
      [](uv_work_t* w) {
        auto* job = static_cast<WriteJob*>(w->data);
        job->ok = save_expect_records(job->state_dir, job->records, job->error);
      },
      [](uv_work_t* w, int) {
        std::unique_ptr<WriteJob> job(static_cast<WriteJob*>(w->data));
        ExpectRunner& runner = *job->runner;
        runner.writing_ = false;
        if (!job->ok) {
          runner.log_.write("error", "cannot store the expectations' records",
                            {{"error", job->error}});
          runner.stored_.clear();  // written again at the next change
        }
        if (runner.write_again_) {
          runner.write_again_ = false;
          runner.persist();
        }
      });
}

}  // namespace folderhook::agent
