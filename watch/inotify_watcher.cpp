// The libuv shell around ActionBuilder: reads the inotify descriptor through uv_poll_t (never
// uv_fs_event_t, which drops IN_Q_OVERFLOW and IN_CLOSE_WRITE), runs one uv_timer_t for every
// window the builder keeps, and runs the catch-up scans (watch/index.h) on libuv's worker pool
// with a second timer for their progress lines and the backoff between rescans.
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "watch/action_builder.h"
#include "watch/real_file_system.h"
#include "watch/engine_watcher.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

Timestamp now_stamp() {
  return Timestamp{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

// Owns the descriptor and both handles. Deletes itself from the last close callback, so it
// outlives the Watcher that fronts it when that is destroyed before the loop runs the closes.
class Engine {
 public:
  Engine(uv_loop_t* loop, int fd, WatchOptions options, ActionSink sink, Logger logger)
      : loop_(loop),
        fd_(fd),
        fs_(fd),
        sink_(std::move(sink)),
        logger_(std::move(logger)),
        ignore_(options.ignore_paths),
        catch_up_(std::move(options.catch_up)),
        builder_(std::move(options), fs_, logger_) {
    poll_.data = this;
    timer_.data = this;
    scan_timer_.data = this;
    backoff_ = catch_up_.rescan_backoff_min;
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  bool start(std::string& error) {
    uv_timer_init(loop_, &timer_);
    ++open_handles_;
    uv_timer_init(loop_, &scan_timer_);
    ++open_handles_;
    int rc = uv_poll_init(loop_, &poll_, fd_);
    if (rc != 0) {
      error = std::string("cannot poll the inotify descriptor: ") + uv_strerror(rc);
      return false;
    }
    ++open_handles_;
    poll_open_ = true;
    if (catch_up_.enabled) {
      // The walk and its diff run on a worker; reading starts when the catch-up is out, so
      // that every live record is news relative to the walk (the kernel queues them meanwhile).
      auto job = std::make_unique<Job>();
      job->start = true;
      job->baseline = std::move(catch_up_.index);
      return queue(job, error);
    }
    builder_.start(now_stamp());
    if (!start_polling(error)) return false;
    deliver();
    return true;
  }

  // Safe to call more than once; `done` runs once both handles are closed.
  void close(std::function<void()> done) {
    if (done) done_ = std::move(done);
    if (closing_) return;
    closing_ = true;
    if (job_ != nullptr) job_->cancel.store(true);  // its completion releases us
    if (poll_open_) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&scan_timer_), on_closed);
  }

  // While the start walk runs on a worker the builder is the worker's: report what was known.
  WatchStats stats() const {
    if (job_ != nullptr && job_->start) return last_stats_;
    WatchStats stats = builder_.stats();
    stats.rescans = rescans_;
    return stats;
  }

 private:
  static void on_readable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<Engine*>(handle->data);
    self->guard([&] {
      if (status < 0) {
        self->logger_("error", "inotify poll failed", {{"error", uv_strerror(status)}});
        return;
      }
      self->read_all();
      self->deliver();
      self->check_overflow();
    });
  }

  static void on_timer(uv_timer_t* handle) {
    auto* self = static_cast<Engine*>(handle->data);
    self->guard([&] {
      self->builder_.tick(now_stamp());
      self->deliver();
    });
  }

  static void on_closed(uv_handle_t* handle) { static_cast<Engine*>(handle->data)->release(); }

  // The handles and a scan in flight each hold the engine; the last one deletes it.
  void release() {
    if (--open_handles_ > 0) return;
    ::close(fd_);
    auto done = std::move(done_);
    delete this;
    if (done) done();
  }

  bool start_polling(std::string& error) {
    const int rc = uv_poll_start(&poll_, UV_READABLE, on_readable);
    if (rc != 0) {
      error = std::string("cannot poll the inotify descriptor: ") + uv_strerror(rc);
      return false;
    }
    return true;
  }

  template <typename F>
  void guard(F&& body) {
    // Nothing may throw through a libuv callback.
    try {
      body();
    } catch (const std::exception& e) {
      if (logger_) logger_("error", "watcher callback failed", {{"error", e.what()}});
    } catch (...) {
      if (logger_) logger_("error", "watcher callback failed", {{"error", "unknown exception"}});
    }
  }

  void read_all() {
    alignas(inotify_event) char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EAGAIN: drained
      // `at` is when we read the operation from the kernel: one stamp per read().
      const Timestamp now = now_stamp();
      for (const RawRecord& record :
           decode_inotify_records(std::string_view(buffer, static_cast<std::size_t>(n)))) {
        builder_.feed(record, now);
      }
    }
  }

  void deliver() {
    if (closing_) return;
    std::vector<FileAction> actions = builder_.take_actions();
    if (catch_up_.enabled) {
      for (const FileAction& action : actions) {
        if (job_ != nullptr) {
          during_scan_.push_back(action);  // the index is with the scan; applied after it
        } else {
          apply_to_index(index_, action);
        }
      }
    }
    if (!actions.empty() && sink_) sink_(std::move(actions));
    if (closing_) return;  // the sink may close us
    if (const auto next = builder_.next_deadline()) {
      const auto wait = *next - std::chrono::steady_clock::now();
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
      uv_timer_start(&timer_, on_timer, ms > 0 ? static_cast<uint64_t>(ms) : 0, 0);
    } else {
      uv_timer_stop(&timer_);
    }
  }

  // One catch-up scan in flight: at start the builder's own walk (which also adds the
  // watches), after an overflow a walk that only reads (scan_tree); then the diff, all on a
  // worker. The engine owns it; the worker touches only the job (and, at start, the builder).
  struct Job {
    uv_work_t req{};
    Engine* engine = nullptr;
    bool start = false;
    Timestamp began;
    Index baseline;  // the index the scan is diffed against, handed back afterwards
    std::set<std::string> indexed;
    bool report_unindexed = false;
    std::vector<std::string> roots;
    std::vector<std::string> ignore;
    uint64_t expected = 0;  // entries in the baseline: the progress estimate
    CatchUp result;
    std::vector<std::string> dirs;  // directories found, parents first
    uint64_t found = 0;
    std::string error;
    ScanProgress progress;
    std::atomic<bool> cancel{false};
  };

  bool queue(std::unique_ptr<Job>& job, std::string& error) {
    job->engine = this;
    job->began = now_stamp();
    job->roots = builder_.top_roots();
    job->ignore = ignore_;
    job->expected = job->baseline.size();
    job->req.data = job.get();
    if (job->start) {
      job->indexed = catch_up_.indexed_roots;
      job->report_unindexed = catch_up_.report_unindexed;
      last_stats_ = builder_.stats();
    } else {
      job->indexed.insert(job->roots.begin(), job->roots.end());
    }
    const int rc = uv_queue_work(loop_, &job->req, run_job, job_done);
    if (rc != 0) {
      error = std::string("cannot start a scan: ") + uv_strerror(rc);
      return false;
    }
    job_ = job.release();
    ++open_handles_;
    const auto every = static_cast<uint64_t>(std::max<int64_t>(1, catch_up_.progress_interval.count()));
    uv_timer_start(&scan_timer_, on_scan_timer, every, every);
    return true;
  }

  // Worker thread.
  static void run_job(uv_work_t* req) {
    auto* job = static_cast<Job*>(req->data);
    try {
      Index scan;
      if (job->start) {
        job->engine->builder_.start(job->began, {&scan, &job->progress, &job->cancel});
      } else {
        RealFileSystem fs(-1);  // stat and list only: no watches from this thread
        auto found = scan_tree(fs, job->roots, job->ignore, job->baseline, job->began.wall,
                               job->progress, job->cancel);
        if (found) scan = std::move(*found);
      }
      if (job->cancel.load()) return;
      job->found = scan.size();
      for (const auto& [path, entry] : scan) {
        if (entry.type == ObjectType::kDirectory) job->dirs.push_back(path);
      }
      job->result = catch_up(job->baseline, scan, job->roots, job->indexed,
                             job->report_unindexed, job->began.wall);
    } catch (const std::exception& e) {
      job->error = e.what();
    }
  }

  static void job_done(uv_work_t* req, int) {
    std::unique_ptr<Job> job(static_cast<Job*>(req->data));
    Engine* self = job->engine;
    if (self->closing_) {
      self->job_ = nullptr;
    } else {
      uv_timer_stop(&self->scan_timer_);
      self->guard([&] {
        if (!job->error.empty()) {
          self->logger_("error", "scan failed", {{"error", job->error}});
        }
        if (job->start) {
          self->finish_start(*job);
        } else {
          self->finish_rescan(*job);
        }
      });
      self->job_ = nullptr;
    }
    self->release();
  }

  void finish_start(Job& job) {
    job_ = nullptr;
    index_ = std::move(job.baseline);
    IndexUpdate update;
    update.indexed_roots = job.roots;
    for (const auto& [path, entry] : job.result.refreshed) index_[path] = entry;
    update.entries = std::move(job.result.refreshed);
    const size_t reported = job.result.actions.size();
    if (catch_up_.on_index) catch_up_.on_index(std::move(update));
    builder_.emit_catch_up(std::move(job.result.actions));
    logger_("info", "catch-up done", scan_fields(job, reported));
    std::string error;
    if (!start_polling(error)) logger_("error", "cannot watch", {{"error", error}});
    deliver();
    if (catch_up_.on_ready && !closing_) catch_up_.on_ready();
  }

  void finish_rescan(Job& job) {
    // What the kernel queued while the scan ran is news the builder names first, so that the
    // catch-up does not repeat it: drain it while the scan still counts as in flight.
    read_all();
    deliver();
    check_overflow();
    job_ = nullptr;
    index_ = std::move(job.baseline);
    for (const FileAction& action : during_scan_) apply_to_index(index_, action);
    during_scan_.clear();
    IndexUpdate update;
    for (auto& [path, entry] : job.result.refreshed) {
      bool by_ancestor = false;
      if (builder_.touched(path, by_ancestor)) continue;
      index_[path] = entry;
      update.entries.emplace_back(path, entry);
    }
    bool subtree_dropped = false;
    const size_t found = job.result.actions.size();
    const std::vector<std::string> dropped =
        builder_.apply_catch_up(std::move(job.result.actions), job.dirs, now_stamp(),
                                subtree_dropped);
    for (const std::string& path : dropped) {
      // Its directory's entries in the index may lack it: the next scan lists it again.
      const auto slash = path.rfind('/');
      const std::string parent = slash == 0 ? "/" : path.substr(0, slash);
      if (auto it = index_.find(parent); it != index_.end()) it->second.meta.ctime_ns = 0;
    }
    ++rescans_;
    if (!update.entries.empty() && catch_up_.on_index) catch_up_.on_index(std::move(update));
    nlohmann::json fields = scan_fields(job, found - dropped.size());
    fields["dropped"] = dropped.size();
    fields["rescans"] = rescans_;
    logger_("info", "rescan done", fields);
    deliver();
    if (rescan_again_ || subtree_dropped) {
      // Still overflowing, or a directory moved under the scan: again, a little later.
      rescan_again_ = false;
      backoff_ = std::min(backoff_ * 2, catch_up_.rescan_backoff_max);
      request_rescan();
    } else {
      backoff_ = catch_up_.rescan_backoff_min;
    }
  }

  nlohmann::json scan_fields(const Job& job, size_t reported) const {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - job.began.mono).count();
    return {{"scanned", job.found},
            {"reported", reported},
            {"ms", ms},
            {"rate_per_s", ms > 0 ? job.found * 1000 / static_cast<uint64_t>(ms) : job.found},
            {"listings_skipped", job.progress.listings_skipped.load()}};
  }

  void check_overflow() {
    const uint64_t overflows = builder_.stats().overflows;
    if (overflows == overflows_seen_) return;
    overflows_seen_ = overflows;
    request_rescan();
  }

  void request_rescan() {
    if (!catch_up_.enabled || closing_) return;
    if (job_ != nullptr) {
      rescan_again_ = true;
      return;
    }
    if (rescan_armed_) return;
    rescan_armed_ = true;
    uv_timer_start(&scan_timer_, on_scan_timer, static_cast<uint64_t>(backoff_.count()), 0);
  }

  static void on_scan_timer(uv_timer_t* handle) {
    auto* self = static_cast<Engine*>(handle->data);
    self->guard([&] {
      if (self->job_ != nullptr) {
        self->log_progress();
        return;
      }
      if (!self->rescan_armed_) return;
      self->rescan_armed_ = false;
      auto job = std::make_unique<Job>();
      job->baseline = std::move(self->index_);
      self->builder_.begin_rescan();
      std::string error;
      if (!self->queue(job, error)) {
        self->index_ = std::move(job->baseline);
        self->logger_("error", "rescan failed", {{"error", error}});
      }
    });
  }

  void log_progress() const {
    const Job& job = *job_;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - job.began.mono).count();
    const uint64_t entries = job.progress.entries.load();
    const double rate = elapsed > 0 ? static_cast<double>(entries) / elapsed : 0.0;
    nlohmann::json fields = {{"scan", job.start ? "start" : "overflow"},
                             {"directories", job.progress.directories.load()},
                             {"entries", entries},
                             {"rate_per_s", static_cast<uint64_t>(rate)},
                             {"elapsed_s", static_cast<uint64_t>(elapsed)}};
    if (job.expected > entries && rate > 0) {
      fields["estimate_s"] = static_cast<uint64_t>(static_cast<double>(job.expected - entries) / rate);
    }
    logger_("info", "scan progress", fields);
  }

  uv_loop_t* loop_;
  int fd_;
  RealFileSystem fs_;
  ActionSink sink_;
  Logger logger_;
  std::vector<std::string> ignore_;
  CatchUpOptions catch_up_;
  ActionBuilder builder_;
  uv_poll_t poll_{};
  uv_timer_t timer_{};
  uv_timer_t scan_timer_{};
  Index index_;                         // the caller's index as the actions so far left it
  Job* job_ = nullptr;                  // the scan in flight
  std::vector<FileAction> during_scan_;  // actions delivered while index_ was with the scan
  WatchStats last_stats_;
  uint64_t overflows_seen_ = 0;
  uint64_t rescans_ = 0;
  bool rescan_armed_ = false;   // scan_timer_ waits to start a rescan
  bool rescan_again_ = false;   // an overflow happened during the scan in flight
  std::chrono::milliseconds backoff_{250};
  bool closing_ = false;
  int open_handles_ = 0;
  bool poll_open_ = false;
  std::function<void()> done_;
};

using InotifyWatcher = EngineWatcher<Engine>;

}  // namespace

std::unique_ptr<Watcher> start_inotify_watcher(uv_loop_t* loop, WatchOptions options,
                                               ActionSink sink, Logger logger,
                                               std::string& error) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    error = std::string("inotify_init1 failed: ") + std::strerror(errno);
    if (errno == EMFILE) error += " (raise fs.inotify.max_user_instances)";
    return nullptr;
  }
  if (!logger) logger = [](std::string_view, std::string_view, const nlohmann::json&) {};
  auto* engine = new Engine(loop, fd, std::move(options), std::move(sink), std::move(logger));
  try {
    if (!engine->start(error)) {
      engine->close(nullptr);  // deletes itself from the close callbacks
      return nullptr;
    }
  } catch (const std::exception& e) {
    error = std::string("cannot start watching: ") + e.what();
    engine->close(nullptr);
    return nullptr;
  }
  return std::make_unique<InotifyWatcher>(engine);
}

}  // namespace folderhook::watch
