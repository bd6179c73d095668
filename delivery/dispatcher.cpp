// DispatcherImpl's construction, start and shutdown, the calls of the public interface, and
// what a sender thread hands back (attempt_done): see dispatcher_impl.h. The writer thread's
// work is in dispatcher_writer.cpp.
#include "delivery/dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <random>
#include <utility>

#include "delivery/dispatcher_impl.h"
#include "delivery/retry.h"
#include "delivery/state_dir.h"

namespace folderhook::delivery {
namespace detail {
namespace {

double unit_random() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// A logger that never lets an exception escape into delivery's threads (a JSON dump of a
// non-UTF-8 path may throw in the caller's logger).
Logger safe_logger(Logger inner) {
  return [inner = std::move(inner)](std::string_view level, std::string_view msg,
                                    const nlohmann::json& fields) {
    if (!inner) return;
    try {
      inner(level, msg, fields);
    } catch (...) {
    }
  };
}

}  // namespace

DispatcherImpl::DispatcherImpl(DispatcherOptions options, Logger logger,
                               std::unique_ptr<StateLock> lock, std::unique_ptr<Outbox> outbox)
    : options_(std::move(options)),
      logger_(safe_logger(std::move(logger))),
      lock_(std::move(lock)),
      outbox_(std::move(outbox)),
      window_(options_.window, [this](PendingRow&& row) {
        own_seqs_.push_back(row.seq);  // known here: not the poll's to find
        dispatch(std::make_shared<Item>(Item{row.seq, std::move(row.request), row.attempts,
                                             row.next_at_ms, std::move(row.batch_id),
                                             row.batch_size, {}, {}}));
      }) {
  options_.first_senders = std::max(1, options_.first_senders);
  options_.retry_senders = std::max(1, options_.retry_senders);
}

bool DispatcherImpl::start(std::string& error) {
  if (!outbox_->load_indexed_roots(index_.indexed_roots, error)) {
    error = "cannot read the index in '" + options_.state_dir + "': " + error;
    return false;
  }
  // The pending rows are read by the writer thread, a window at a time (window.h).
  poll_mark_ = outbox_->max_seq();
  window_.resume();
  if (const int64_t pending = outbox_->pending_count(); pending > 0) {
    logger_("info", "outbox resumed", {{"pending", pending}, {"window", window_.limit()}});
  }
  if (!options_.notify.smtp_url.empty()) {
    notifier_ = std::make_unique<Notifier>(options_.state_dir, options_.notify, logger_);
  }
  start_wal_helpers();
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "outbox-writer");
    run_writer();
  });
  return true;
}

void DispatcherImpl::submit(std::vector<Request>&& requests, std::vector<IndexChange>&& changes) {
  std::lock_guard lock(wmu_);
  if (writer_stopping_) {
    logger_("error", "delivery submitted after shutdown; dropped", {{"count", requests.size()}});
    return;
  }
  // Already waiting for the writer, they were announced: it takes them all at once, at the
  // latest when the commit gap it is waiting out ends. Waking it again would only put it back
  // to sleep (a futex wake and two context switches per batch of the loop's).
  const bool announced = !submitted_.empty() || !submitted_index_.empty();
  append_moved(submitted_index_, changes);
  size_t dropped = 0;
  for (auto& r : requests) {
    if (submitted_.size() + held_count_ >= options_.max_held) {
      ++dropped;
      continue;
    }
    submitted_.push_back(std::move(r));
  }
  if (dropped > 0) {
    logger_("error", "outbox cannot keep up (disk full?); requests dropped",
            {{"dropped", dropped},
             {"held_in_memory", submitted_.size()},
             {"max_held", options_.max_held}});
  }
  if (!announced) wcv_.notify_one();
}

void DispatcherImpl::read_index(IndexRead done) {
  {
    std::lock_guard lock(wmu_);
    if (!writer_stopping_) {
      index_reads_.push_back({std::move(done), {}, submitted_.size(), submitted_index_.size()});
      wcv_.notify_one();
      return;
    }
  }
  done({}, "the outbox is shutting down");
}

void DispatcherImpl::after_commit(Committed done) {
  {
    std::lock_guard lock(wmu_);
    if (!writer_stopping_) {
      index_reads_.push_back({{}, std::move(done), submitted_.size(), submitted_index_.size()});
      wcv_.notify_one();
      return;
    }
  }
  done(false);
}

void DispatcherImpl::shutdown() {
  {
    std::lock_guard lock(lanes_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true);
  }
  for (auto& [key, lane] : lanes_) lane->stop();
  {
    std::lock_guard lock(wmu_);
    writer_stopping_ = true;
    wcv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  // After the writer: both touch its connection's WAL. The syncer syncs what is left.
  checkpointer_.reset();
  syncer_.reset();
  if (notifier_) notifier_->stop();
  lanes_.clear();
  outbox_.reset();
  lock_.reset();
}

void DispatcherImpl::dispatch(std::shared_ptr<Item> item) {
  std::string key;
  for (const auto& u : item->request.urls) key += u + "\n";
  key += item->request.method;
  std::lock_guard lock(lanes_mu_);
  if (stopped_) return;  // committed: sent at the next start
  auto& lane = lanes_[key];
  if (!lane) {
    const std::string primary = item->request.urls.empty() ? "" : item->request.urls.front();
    lane = std::make_unique<Lane>(
        *this, lane_shape(primary, options_.first_senders, options_.pipeline_depth),
        options_.retry_senders, lane_policy(item->request));
  }
  lane->adopt(lane_policy(item->request), item->seq);
  if (item->attempts == 0) {
    lane->push_first(std::move(item));
  } else {
    lane->push_retry(std::move(item));
  }
}

bool DispatcherImpl::record_batch(const std::string& batch_id, const std::vector<std::string>& ids) {
  auto done = std::make_shared<std::promise<bool>>();
  auto committed = done->get_future();
  {
    std::lock_guard lock(wmu_);
    if (writer_stopping_) return false;
    batch_marks_.push_back(BatchMark{batch_id, ids});
    mark_waiters_.push_back(std::move(done));
    wcv_.notify_one();
  }
  return committed.get();
}

void DispatcherImpl::post(Batch&& part, AttemptLog&& entry,
                          std::vector<DeliveryWindow::Release>&& releases) {
  std::lock_guard lock(wmu_);
  // Only the first result wakes the writer (to set its deadline); the rest ride along.
  const bool first = completions_.empty();
  if (first) results_since_ = std::chrono::steady_clock::now();
  attempt_logs_.push_back(std::move(entry));
  for (const auto& release : releases) {
    if (release.seq != 0) released_.push_back(release);
  }
  auto append = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  append(completions_.delivered, part.delivered);
  append(completions_.retries, part.retries);
  append(completions_.dead, part.dead);
  append(completions_.url_outcomes, part.url_outcomes);
  if (first) wcv_.notify_one();
}

void DispatcherImpl::attempt_done(const std::shared_ptr<Item>& item, Lane& lane,
                                  const AttemptResult& result) {
  for (const auto& u : result.urls) {
    // Abandoned by shutdown: the row stays pending and is sent again at the next start.
    if (u.error == kAborted) return;
  }
  const int attempt = item->attempts + 1;
  const int64_t now = unix_ms_now();
  const Request& r = item->request;
  Batch part;
  for (const auto& u : result.urls) {
    part.url_outcomes.push_back(UrlOutcome{u.url, u.status, u.error, u.error.empty(), now});
  }
  // The log line is built by the writer thread: a sender only hands over the figures.
  AttemptLog entry{r.id,
                   r.action,
                   r.path,
                   result.url,
                   attempt,
                   result.status,
                   result.error,
                   result.ms,
                   r.catch_up,
                   AttemptLog::Outcome::kDelivered,
                   0,
                   item->members.size()};
  // The rows this attempt was for: the item's own, or each member's of a batch (they share
  // its fate: delivered, retried or dead together).
  std::vector<Item*> rows;
  if (item->members.empty()) rows.push_back(item.get());
  for (const auto& m : item->members) rows.push_back(m.get());
  std::vector<DeliveryWindow::Release> releases;
  if (result.delivered) {
    for (Item* row : rows) {
      part.delivered.push_back({row->request.id, row->seq});
      releases.push_back({row->seq, 0});
    }
    post(std::move(part), std::move(entry), std::move(releases));
    return;
  }
  const auto delay = result.rejected ? std::nullopt
                                     : retry_delay(options_.retry, attempt, unit_random(),
                                                   result.retry_after);
  if (delay) {
    const int64_t next_at = now + delay->count();
    for (Item* row : rows) {
      part.retries.push_back(
          RetryUpdate{row->request.id, attempt, next_at, result.status, result.error});
      releases.push_back({row->seq, next_at});
    }
    entry.outcome = AttemptLog::Outcome::kRetry;
    entry.next_at_ms = next_at;
    if (delay->count() > options_.retry_in_memory.count()) {
      // Waits in the outbox; read back when due (window.h), a batch's members regrouped by
      // their stored batch (lane.h).
      post(std::move(part), std::move(entry), std::move(releases));
      return;
    }
    // Posted before the retry is queued, so that this attempt's line precedes the next one's.
    post(std::move(part), std::move(entry), {});
    for (Item* row : rows) {
      row->attempts = attempt;
      row->next_at_ms = next_at;
    }
    item->attempts = attempt;
    item->next_at_ms = next_at;
    lane.push_retry(item);
    return;
  }
  for (Item* row : rows) {
    part.dead.push_back(
        DeadLetter{row->request, attempt, result.status, result.error, result.body, now});
    releases.push_back({row->seq, 0});
  }
  entry.outcome = AttemptLog::Outcome::kDead;
  post(std::move(part), std::move(entry), std::move(releases));
}

}  // namespace detail

std::unique_ptr<Dispatcher> open_dispatcher(DispatcherOptions options, Logger logger,
                                            std::string& error) {
  if (options.state_dir.empty()) {
    error = "state_dir is empty";
    return nullptr;
  }
  std::vector<std::string> tightened;
  if (!prepare_state_dir(options.state_dir, tightened, error)) return nullptr;
  if (!tightened.empty()) {
    logger("warn", "state_dir was readable by other users; tightened",
           {{"state_dir", options.state_dir}, {"changed", tightened}});
  }
  auto lock = StateLock::acquire(options.state_dir, error);
  if (!lock) return nullptr;
  auto outbox = Outbox::open(options.state_dir, error);
  if (!outbox) return nullptr;
  auto dispatcher = std::make_unique<detail::DispatcherImpl>(std::move(options), std::move(logger),
                                                             std::move(lock), std::move(outbox));
  if (!dispatcher->start(error)) return nullptr;
  return dispatcher;
}

}  // namespace folderhook::delivery
