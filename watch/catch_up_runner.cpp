// CatchUpRunner: the scans behind the catch-up at start and the rescans after an overflow.
#include "watch/catch_up_runner.h"

#include <algorithm>
#include <exception>

#include "common/release_memory.h"
#include "watch/real_file_system.h"

namespace folderhook::watch {
namespace {

// Every folder of the job seen for the first time, nothing to report of them. Rows the store may
// hold of them are a first start's killed mid-walk: reset_roots drops them.
bool first_sight_of(const std::vector<std::string>& roots, const std::set<std::string>& indexed,
                    bool report_unindexed) {
  return !report_unindexed &&
         std::none_of(roots.begin(), roots.end(),
                      [&](const std::string& root) { return indexed.count(root) != 0; });
}

// The job's folders never indexed: rows the store holds of them are what a first start killed
// mid-walk left (IndexUpdate::reset_roots).
std::vector<std::string> unindexed(const std::vector<std::string>& roots,
                                   const std::set<std::string>& indexed) {
  std::vector<std::string> out;
  for (const std::string& root : roots) {
    if (!indexed.count(root)) out.push_back(root);
  }
  return out;
}

constexpr uint64_t kTrimAfterEntries = 10000;

// What a read-only scan lists through: stat and list only (no watches from a worker), and the
// start scan's sift (empty for the others).
class ScanFileSystem : public RealFileSystem {
 public:
  explicit ScanFileSystem(const std::function<void()>& sift) : RealFileSystem(-1), sift_(sift) {}
  void sift_queue() override {
    if (sift_) sift_();
  }

 private:
  const std::function<void()>& sift_;
};

Timestamp now_stamp() {
  return Timestamp{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

}  // namespace

CatchUpRunner::CatchUpRunner(uv_loop_t* loop, ActionBuilder& builder, Logger logger,
                             CatchUpOptions options, std::vector<std::string> ignore, Hooks hooks)
    : loop_(loop),
      builder_(builder),
      logger_(std::move(logger)),
      options_(std::move(options)),
      ignore_(std::move(ignore)),
      hooks_(std::move(hooks)),
      backoff_(options_.rescan_backoff_min) {
  timer_.data = this;
}

void CatchUpRunner::init() {
  uv_timer_init(loop_, &timer_);
  hooks_.hold();
  batch_ready_.data = this;
  uv_async_init(loop_, &batch_ready_, on_batch);
  uv_unref(reinterpret_cast<uv_handle_t*>(&batch_ready_));  // the walk's work request keeps the loop
  hooks_.hold();
}

bool CatchUpRunner::start(StartKind kind, std::string& error) {
  auto job = std::make_unique<Job>();
  job->start = true;
  job->builder_walk = kind == StartKind::kBuilderWalk;
  job->indexed = options_.indexed_roots;
  job->report_unindexed = options_.report_unindexed;
  if (job->builder_walk) walking_stats_ = builder_.stats();
  if (!job->builder_walk) job->sift = hooks_.sift;
  return queue(job, error);
}

void CatchUpRunner::close() {
  if (closing_) return;
  closing_ = true;
  if (job_ != nullptr) {
    job_->cancel.store(true);  // its completion releases the engine
    if (job_->handoff) {
      // Under the lock the worker sends on batch_ready_ with: it sends nothing after this.
      std::lock_guard lock(job_->handoff->mu);
      job_->handoff->cancelled = true;
      job_->handoff->cv.notify_all();
    }
  }
  const auto release = [](uv_handle_t* handle) {
    static_cast<CatchUpRunner*>(handle->data)->hooks_.release();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), release);
  uv_close(reinterpret_cast<uv_handle_t*>(&batch_ready_), release);
}

bool CatchUpRunner::queue(std::unique_ptr<Job>& job, std::string& error) {
  job->runner = this;
  job->began = now_stamp();
  if (job->roots.empty()) job->roots = builder_.top_roots();
  job->ignore = ignore_;
  job->permission_roots = builder_.permission_roots();
  // Now, on the loop: the index as every action reported so far and every on_index() left it.
  if (options_.read_index) job->read_index = options_.read_index();
  job->req.data = job.get();
  if (job->start) {
    job->handoff = std::make_shared<Handoff>();
    job->batch_limit = options_.index_batch;
  }
  if (job->added) {
    job->indexed = options_.indexed_roots;
    job->report_unindexed = options_.report_unindexed;
  } else if (!job->start) {
    job->indexed.insert(job->roots.begin(), job->roots.end());
  }
  const int rc = uv_queue_work(loop_, &job->req, run_job, job_done);
  if (rc != 0) {
    error = std::string("cannot start a scan: ") + uv_strerror(rc);
    return false;
  }
  job_ = job.release();
  hooks_.hold();
  const auto every = static_cast<uint64_t>(std::max<int64_t>(1, options_.progress_interval.count()));
  uv_timer_start(&timer_, on_timer, every, every);
  return true;
}

// Worker thread.
void CatchUpRunner::run_job(uv_work_t* req) {
  auto* job = static_cast<Job*>(req->data);
  try {
    // Read before the walk: a start walk goes on (it adds the watches) even when the index
    // cannot be read, but then diffs nothing and indexes nothing.
    bool have_baseline = true;
    if (job->read_index) {
      std::optional<Index> stored = job->read_index(job->error);
      job->read_index = nullptr;
      have_baseline = stored.has_value();
      if (stored) job->baseline = std::move(*stored);
      job->expected.store(job->baseline.size());
    }
    if (!have_baseline && !job->builder_walk) return;
    Index scan;
    if (job->builder_walk) {
      const bool first =
          have_baseline && first_sight_of(job->roots, job->indexed, job->report_unindexed);
      if (first) job->baseline = Index{};
      // Nothing known of any folder: catch_up() would only record the scan, in any order (the
      // store puts each row; the walk finds each path once). It goes to on_index() as it is, a
      // batch at a time while the walk runs: no map, and never the whole tree in memory.
      ScanLog log;
      if (first && job->batch_limit > 0) {
        log = ScanLog(job->batch_limit, [job](ScanLog&& batch) {
          job->runner->hand_over(*job, std::move(batch));
        });
      }
      job->runner->builder_.start(job->began, {&log, &job->progress, &job->cancel});
      // The batches before the last are stored before the last (and the folders indexed with
      // it) goes out; and the store's word comes before the job is gone.
      if (first) wait_stored(*job->handoff);
      if (job->cancel.load() || !have_baseline) return;
      if (first) {
        job->found = job->handed + log.size();
        job->first_sight = log.take();
        return;
      }
      scan = log.take_index();
    } else if (job->start && first_sight_of(job->roots, job->indexed, job->report_unindexed)) {
      // The read-only start scan of folders never indexed: recorded as it goes, as above.
      job->baseline = Index{};
      ScanFileSystem fs(job->sift);
      ScanLog log;
      if (job->batch_limit > 0) {
        log = ScanLog(job->batch_limit, [job](ScanLog&& batch) {
          job->runner->hand_over(*job, std::move(batch));
        });
      }
      const bool walked = record_tree(fs, job->roots, job->ignore, job->began.wall,
                                      job->progress, job->cancel, log, job->dirs,
                                      job->permission_roots);
      wait_stored(*job->handoff);
      if (!walked || job->cancel.load()) return;
      job->found = job->handed + log.size();
      job->first_sight = log.take();
      return;
    } else {
      ScanFileSystem fs(job->sift);
      auto found = scan_tree(fs, job->roots, job->ignore, job->baseline, job->began.wall,
                             job->progress, job->cancel, job->permission_roots);
      if (found) scan = std::move(*found);
    }
    if (job->cancel.load() || !have_baseline) return;
    job->found = scan.size();
    if (!job->builder_walk) {  // the builder's walk watched every directory it found
      for (const auto& [path, entry] : scan) {
        if (entry.type == ObjectType::kDirectory) job->dirs.push_back(path);
      }
    }
    job->result = catch_up(std::move(job->baseline), std::move(scan), job->roots, job->indexed,
                           job->report_unindexed, job->began.wall);
  } catch (const std::exception& e) {
    job->error = e.what();
  }
}

void CatchUpRunner::job_done(uv_work_t* req, int) {
  std::unique_ptr<Job> job(static_cast<Job*>(req->data));
  CatchUpRunner* self = job->runner;
  if (self->closing_) {
    self->job_ = nullptr;
  } else {
    uv_timer_stop(&self->timer_);
    self->guard([&] {
      if (!job->error.empty()) self->logger_("error", "scan failed", {{"error", job->error}});
      if (job->builder_walk) {
        self->finish_walk_start(*job);
      } else {
        self->finish_scan(*job);
      }
    });
    if (self->job_ == job.get()) self->job_ = nullptr;  // a finish that threw before it let go
    // A large scan's maps (the index read back, the scan, the diff's copies) are freed by now:
    // their pages go back to the system rather than staying with the heap.
    const bool large = job->expected.load() + job->found >= kTrimAfterEntries;
    job.reset();
    if (large) release_free_memory();
    self->guard([&] {
      // New folders first (a rescan would take them for indexed), then a rescan that waits.
      self->start_next();
      if (self->job_ == nullptr && self->rescan_armed_) {
        uv_timer_start(&self->timer_, on_timer, static_cast<uint64_t>(self->backoff_.count()), 0);
      }
    });
  }
  self->hooks_.release();  // may delete the engine, and this runner with it
}

// The builder's own walk was the scan: it already knows what the actions name.
void CatchUpRunner::finish_walk_start(Job& job) {
  job_ = nullptr;
  job.baseline = Index{};  // the store has it: nothing of it is kept
  IndexUpdate update;
  if (!job.reset_sent) update.reset_roots = unindexed(job.roots, job.indexed);
  if (job.error.empty()) {  // a failed scan indexed nothing: the next start tries again
    update.indexed_roots = job.roots;
    options_.indexed_roots.insert(job.roots.begin(), job.roots.end());
  }
  update.entries = std::move(job.result.refreshed);
  update.recorded = std::move(job.first_sight);
  const size_t reported = job.result.actions.size();
  if (options_.on_index) options_.on_index(std::move(update));
  builder_.emit_catch_up(std::move(job.result.actions));
  logger_("info", "catch-up done", scan_fields(job, reported));
  std::string error;
  if (!hooks_.go_live(error)) logger_("error", "cannot watch", {{"error", error}});
  drain();
  if (options_.on_ready && !closing_) options_.on_ready();
}

// A read-only scan, at start (nothing read live yet) or after an overflow (live records went
// on meanwhile: an action about a path one of them named is dropped, the live one is newer).
void CatchUpRunner::finish_scan(Job& job) {
  if (!job.start) {
    // What the kernel queued while the scan ran is news the builder names first, so that the
    // catch-up does not repeat it: drain it while the scan still counts as in flight.
    drain();
  }
  // A failed scan indexed nothing: such a folder stays unindexed (the next scan tries again).
  const bool indexes = (job.start || job.added) && job.error.empty();
  if (indexes) options_.indexed_roots.insert(job.roots.begin(), job.roots.end());
  job_ = nullptr;
  job.baseline = Index{};  // the store has it: nothing of it is kept
  IndexUpdate update;
  if (indexes) update.indexed_roots = job.roots;
  // Not for added folders: live records about them may have been stored already (they are
  // watched before their scan).
  if (job.start && indexes && !job.reset_sent) {
    update.reset_roots = unindexed(job.roots, job.indexed);
  }
  update.recorded = std::move(job.first_sight);  // a first start's last batch
  for (auto& [path, entry] : job.result.refreshed) {
    bool by_ancestor = false;
    if (builder_.touched(path, by_ancestor)) continue;
    update.entries.emplace_back(std::move(path), entry);
  }
  // A folder dropped from the rules while the scan ran: its differences are no one's news.
  const auto& tops = builder_.top_roots();
  const auto watched = [&](const std::string& path) {
    return !path.empty() && std::any_of(tops.begin(), tops.end(), [&](const std::string& top) {
      return path_is_within(path, top);
    });
  };
  std::erase_if(job.result.actions, [&](const FileAction& action) {
    return !watched(action.path) && !watched(action.destination);
  });
  bool subtree_dropped = false;
  const size_t found = job.result.actions.size();
  const std::vector<std::string> dropped = builder_.apply_catch_up(
      std::move(job.result.actions), job.dirs, now_stamp(), subtree_dropped);
  for (const std::string& path : dropped) {
    // Its directory's entries in the index may lack it: the next scan lists it again.
    const auto slash = path.rfind('/');
    update.relist.push_back(slash == 0 ? "/" : path.substr(0, slash));
  }
  if (!job.start && !job.added) ++rescans_;
  if ((job.start || job.added || !update.entries.empty() || !update.relist.empty()) &&
      options_.on_index) {
    options_.on_index(std::move(update));
  }
  nlohmann::json fields = scan_fields(job, found - dropped.size());
  fields["dropped"] = dropped.size();
  if (job.start) {
    logger_("info", "catch-up done", fields);
    std::string error;
    if (!hooks_.go_live(error)) logger_("error", "cannot watch", {{"error", error}});
    drain();
    if (options_.on_ready && !closing_) options_.on_ready();
    return;
  }
  if (job.added) {
    fields["folders"] = job.roots;
    logger_("info", "catch-up done", fields);
  } else {
    fields["rescans"] = rescans_;
    logger_("info", "rescan done", fields);
  }
  // Read once more after the log line: an overflow record among it asks for another rescan too.
  drain();
  if (rescan_again_ || subtree_dropped) {
    // Still overflowing, or a directory moved under the scan: again, a little later.
    rescan_again_ = false;
    backoff_ = std::min(backoff_ * 2, options_.rescan_backoff_max);
    request_rescan();
  } else if (!job.added) {
    backoff_ = options_.rescan_backoff_min;
  }
}

void CatchUpRunner::scan_added(std::vector<std::string> roots) {
  if (!options_.enabled || closing_ || roots.empty()) return;
  added_roots_.insert(added_roots_.end(), roots.begin(), roots.end());
  start_next();
}

void CatchUpRunner::start_next() {
  if (job_ != nullptr || closing_ || added_roots_.empty()) return;
  auto job = std::make_unique<Job>();
  job->added = true;
  // Roots still watched: set_roots may have been called again since.
  for (const std::string& root : added_roots_) {
    const auto& tops = builder_.top_roots();
    if (std::find(tops.begin(), tops.end(), root) != tops.end() &&
        std::find(job->roots.begin(), job->roots.end(), root) == job->roots.end()) {
      job->roots.push_back(root);
    }
  }
  added_roots_.clear();
  if (job->roots.empty()) return;
  builder_.begin_rescan();
  std::string error;
  if (!queue(job, error)) logger_("error", "catch-up of new folders failed", {{"error", error}});
}

nlohmann::json CatchUpRunner::scan_fields(const Job& job, size_t reported) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - job.began.mono).count();
  return {{"scanned", job.found},
          {"reported", reported},
          {"ms", ms},
          {"rate_per_s", ms > 0 ? job.found * 1000 / static_cast<uint64_t>(ms) : job.found},
          {"listings_skipped", job.progress.listings_skipped.load()}};
}

void CatchUpRunner::drain() {
  hooks_.drain();
  check_overflow();
}

void CatchUpRunner::check_overflow() {
  const uint64_t overflows = builder_.stats().overflows;
  if (overflows == overflows_seen_) return;
  overflows_seen_ = overflows;
  request_rescan();
}

void CatchUpRunner::request_rescan() {
  if (!options_.enabled || closing_) return;
  if (job_ != nullptr) {
    rescan_again_ = true;
    return;
  }
  if (rescan_armed_) return;
  rescan_armed_ = true;
  uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(backoff_.count()), 0);
}

void CatchUpRunner::on_timer(uv_timer_t* handle) {
  auto* self = static_cast<CatchUpRunner*>(handle->data);
  self->guard([&] {
    if (self->job_ != nullptr) {
      self->log_progress();
    } else if (self->rescan_armed_) {
      self->rescan_armed_ = false;
      self->start_rescan();
    }
  });
}

void CatchUpRunner::start_rescan() {
  auto job = std::make_unique<Job>();
  builder_.begin_rescan();
  std::string error;
  if (!queue(job, error)) logger_("error", "rescan failed", {{"error", error}});
}

void CatchUpRunner::log_progress() const {
  const Job& job = *job_;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - job.began.mono).count();
  const uint64_t entries = job.progress.entries.load();
  const double rate = elapsed > 0 ? static_cast<double>(entries) / elapsed : 0.0;
  nlohmann::json fields = {{"scan", job.start ? "start" : job.added ? "added" : "overflow"},
                           {"directories", job.progress.directories.load()},
                           {"entries", entries},
                           {"rate_per_s", static_cast<uint64_t>(rate)},
                           {"elapsed_s", static_cast<uint64_t>(elapsed)}};
  const uint64_t expected = job.expected.load();
  if (expected > entries && rate > 0) {
    fields["estimate_s"] = static_cast<uint64_t>(static_cast<double>(expected - entries) / rate);
  }
  logger_("info", "scan progress", fields);
}

}  // namespace folderhook::watch
