#include "agent/accounts_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

namespace folderhook::agent {

// One read of the files, on the thread pool; back on the loop in after_job().
struct AccountsWatch::Job {
  uv_work_t work{};
  AccountsWatch* owner = nullptr;
  std::string dir, state_dir;
  bool first = false;
  // Filled by the worker.
  std::optional<AccountSnapshot> now;
  std::string read_error;
  std::optional<AccountSnapshot> stored;  // first read only
  std::string stored_error;               // first read only: the stored one is unusable
  bool recorded = false;                  // first read with nothing stored: saved as is
  std::string save_error;
};

AccountsWatch::AccountsWatch(uv_loop_t* loop, AccountsWatchOptions options, Deliver deliver,
                             Logger log)
    : loop_(loop), options_(std::move(options)), deliver_(std::move(deliver)),
      log_(std::move(log)) {}

AccountsWatch::~AccountsWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool AccountsWatch::start(std::string& error) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    error = std::string("inotify_init1: ") + std::strerror(errno);
    return false;
  }
  // IN_MOVED_TO: the tools' rename onto passwd or group. IN_CLOSE_WRITE: an edit in place.
  // IN_DELETE: the file gone (the read then fails and is retried at the next event).
  if (inotify_add_watch(fd_, options_.dir.c_str(),
                        IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR) < 0) {
    error = "cannot watch " + options_.dir + ": " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  uv_poll_init(loop_, &poll_, fd_);
  poll_.data = this;
  uv_poll_start(&poll_, UV_READABLE, [](uv_poll_t* h, int status, int) {
    if (status == 0) static_cast<AccountsWatch*>(h->data)->on_readable();
  });
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  started_ = true;
  // The watch is in place: whatever changes from here on is seen by this read or the next.
  run_job();
  return true;
}

void AccountsWatch::close() {
  if (closing_ || !started_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void AccountsWatch::on_readable() {
  alignas(inotify_event) char buffer[4096];
  bool relevant = false;
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: drained
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      const std::string_view name = event->len ? std::string_view(event->name) : "";
      // An overflow lost events of unknown names: read again to be sure.
      if ((event->mask & IN_Q_OVERFLOW) || name == "passwd" || name == "group") relevant = true;
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  if (relevant) schedule();
}

// The first event of a burst starts the timer; the ones after it are read by the same read.
// An event during a read marks it dirty: one more read follows, so nothing is missed.
void AccountsWatch::schedule() {
  if (closing_) return;
  if (job_running_) {
    dirty_ = true;
    return;
  }
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_))) return;
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<AccountsWatch*>(t->data)->run_job(); },
                 options_.debounce_ms, 0);
}

void AccountsWatch::run_job() {
  job_running_ = true;
  auto* job = new Job;
  job->work.data = job;
  job->owner = this;
  job->dir = options_.dir;
  job->state_dir = options_.state_dir;
  job->first = first_;
  uv_queue_work(
      loop_, &job->work,
      [](uv_work_t* w) {
        Job& j = *static_cast<Job*>(w->data);
        j.now = read_account_files(j.dir, j.read_error);
        if (!j.first || !j.now) return;
        j.stored = load_account_snapshot(j.state_dir, j.stored_error);
        if (!j.stored) {
          // The first start, or a snapshot the agent cannot use: record what is there now.
          j.recorded = save_account_snapshot(j.state_dir, *j.now, j.save_error);
        }
      },
      [](uv_work_t* w, int) {
        std::unique_ptr<Job> job(static_cast<Job*>(w->data));
        job->owner->after_job(*job);
      });
}

void AccountsWatch::after_job(Job& job) {
  job_running_ = false;
  if (!job.now) {
    // Kept as it was: the next event reads again. A missing file is not every account gone.
    log_("warn", "accounts: cannot read the account files; changes are reported at the next "
                 "change", {{"error", job.read_error}});
  } else if (job.first && !job.stored) {
    first_ = false;
    known_ = *job.now;
    if (!job.stored_error.empty()) {
      log_("warn", "accounts: the stored snapshot is unusable; recorded the accounts anew",
           {{"error", job.stored_error}});
    }
    if (!job.save_error.empty()) {
      log_("error", "accounts: cannot save the snapshot", {{"error", job.save_error}});
    }
    log_("info", "accounts: recorded",
         {{"users", known_.users.size()}, {"groups", known_.groups.size()},
          {"snapshot", account_snapshot_path(options_.state_dir)}});
  } else {
    const bool catch_up = job.first;
    if (job.first) {
      first_ = false;
      known_ = *job.stored;
    }
    std::vector<AccountChange> changes = diff_accounts(known_, *job.now);
    known_ = std::move(*job.now);
    if (catch_up) {
      log_("info", "accounts: compared with the snapshot",
           {{"users", known_.users.size()}, {"groups", known_.groups.size()},
            {"changes", changes.size()}});
    }
    if (!changes.empty()) {
      // Saved on the committing thread once the requests are in the outbox; the saves come
      // in the order of the reads (the outbox calls them in submission order).
      auto log = log_;
      Commit commit = [state_dir = options_.state_dir, snapshot = known_,
                       log](bool committed) {
        std::string error;
        if (committed && !save_account_snapshot(state_dir, snapshot, error)) {
          log("error", "accounts: cannot save the snapshot", {{"error", error}});
        }
      };
      deliver_(std::move(changes), catch_up, std::move(commit));
    }
  }
  if (dirty_) {
    dirty_ = false;
    schedule();
  }
}

}  // namespace folderhook::agent
