#include "delivery/dispatcher.h"

#include <malloc.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "delivery/attempt.h"
#include "delivery/http_sender.h"
#include "delivery/lane.h"
#include "delivery/notifier.h"
#include "delivery/outbox.h"
#include "delivery/retry.h"
#include "delivery/url.h"
#include "delivery/wal.h"
#include "delivery/window.h"

namespace folderhook::delivery {
namespace {

using namespace std::chrono_literals;

std::string new_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // RAND_bytes fails only without entropy; fall back to the standard library's source.
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "msg_";
  for (const auto b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

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

// A commit of at least this many index changes (a first index, a whole folder's catch-up) is
// followed by malloc_trim().
constexpr size_t kTrimAfterIndexChanges = 10000;

// Appends `from` to `to`, taking its buffer when `to` is empty: a first index of 100,000 rows
// (12.8 MB of IndexChange) is then never copied on its way to the commit.
template <typename T>
void append_moved(std::vector<T>& to, std::vector<T>& from) {
  if (to.empty()) {
    to.swap(from);
  } else {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  }
  from.clear();
}

// The figures of one attempt's log line, as a sender hands them to the writer thread.
struct AttemptLog {
  enum class Outcome { kDelivered, kRetry, kDead };
  std::string id, action, path, url;
  int attempt = 0;
  int status = 0;
  std::string error;
  int64_t ms = 0;
  bool catch_up = false;
  Outcome outcome = Outcome::kDelivered;
  int64_t next_at_ms = 0;
};

class DispatcherImpl final : public Dispatcher, public LaneOwner {
 public:
  DispatcherImpl(DispatcherOptions options, Logger logger, std::unique_ptr<StateLock> lock,
                 std::unique_ptr<Outbox> outbox)
      : options_(std::move(options)),
        logger_(safe_logger(std::move(logger))),
        lock_(std::move(lock)),
        outbox_(std::move(outbox)),
        window_(options_.window, [this](PendingRow&& row) {
          own_seqs_.push_back(row.seq);  // known here: not the poll's to find
          dispatch(std::make_shared<Item>(
              Item{row.seq, std::move(row.request), row.attempts, row.next_at_ms}));
        }) {
    if (options_.retry.empty()) options_.retry = default_retry_schedule();
    options_.first_senders = std::max(1, options_.first_senders);
    options_.retry_senders = std::max(1, options_.retry_senders);
  }

  ~DispatcherImpl() override { shutdown(); }

  bool start(std::string& error) {
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

  using Dispatcher::submit;
  void submit(std::vector<Request>&& requests, std::vector<IndexChange>&& changes) override {
    std::lock_guard lock(wmu_);
    if (writer_stopping_) {
      logger_("error", "delivery submitted after shutdown; dropped", {{"count", requests.size()}});
      return;
    }
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
              {{"dropped", dropped}, {"held_in_memory", submitted_.size()},
               {"max_held", options_.max_held}});
    }
    wcv_.notify_one();
  }

  IndexSnapshot take_index() override { return std::exchange(index_, IndexSnapshot{}); }

  void read_index(IndexRead done) override {
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

  void after_commit(Committed done) override {
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

  MemoryFigures memory() const override {
    return MemoryFigures{window_.limit(), window_.held(), window_.peak(), window_.read_back()};
  }

  void shutdown() override {
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

  // Called by a Lane's sender thread with the result of one attempt.
  void attempt_done(const std::shared_ptr<Item>& item, Lane& lane,
                    const AttemptResult& result) override;
  bool stopping() const { return stopping_.load(); }
  std::unique_ptr<HttpSender> make_sender() const override {
    return make_http_sender(options_.timeout, options_.ca_file);
  }
  const DispatcherOptions& options() const override { return options_; }

 private:
  void dispatch(std::shared_ptr<Item> item) {
    std::string key;
    for (const auto& u : item->request.urls) key += u + "\n";
    key += item->request.method;
    std::lock_guard lock(lanes_mu_);
    if (stopped_) return;  // committed: sent at the next start
    auto& lane = lanes_[key];
    if (!lane) lane = std::make_unique<Lane>(*this, options_.first_senders, options_.retry_senders);
    if (item->attempts == 0) {
      lane->push_first(std::move(item));
    } else {
      lane->push_retry(std::move(item));
    }
  }

  // `release`: the item leaves memory once `part` is committed (seq 0: it stays).
  void post(Batch&& part, AttemptLog&& entry, DeliveryWindow::Release release) {
    std::lock_guard lock(wmu_);
    // Only the first result wakes the writer (to set its deadline); the rest ride along.
    const bool first = completions_.empty();
    if (first) results_since_ = std::chrono::steady_clock::now();
    attempt_logs_.push_back(std::move(entry));
    if (release.seq != 0) released_.push_back(release);
    auto append = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
    };
    append(completions_.delivered, part.delivered);
    append(completions_.retries, part.retries);
    append(completions_.dead, part.dead);
    append(completions_.url_outcomes, part.url_outcomes);
    if (first) wcv_.notify_one();
  }

  // A read (or an after_commit(): `committed` set) and how much of submitted_ and
  // submitted_index_ preceded it: that much is committed before the read is answered, and
  // nothing submitted after it.
  struct PendingRead {
    IndexRead done;
    Committed committed;
    size_t requests;
    size_t changes;
  };

  void start_wal_helpers();
  void wait_for_work(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds idle);
  void run_writer();
  void answer_index_reads(std::vector<PendingRead>& reads, bool committed);
  std::vector<PendingRead> take_submitted(std::vector<Request>& requests,
                                        std::vector<IndexChange>& changes);
  void poll_foreign_rows();
  void log_attempts(std::vector<AttemptLog>& entries);

  DispatcherOptions options_;
  Logger logger_;
  std::unique_ptr<StateLock> lock_;
  std::unique_ptr<Outbox> outbox_;  // the writer thread's (and start()'s) connection
  std::unique_ptr<WalSyncer> syncer_;  // syncs the WAL after commits, off the writer thread
  std::unique_ptr<Checkpointer> checkpointer_;  // copies the WAL back, off the writer thread
  std::unique_ptr<Notifier> notifier_;
  DeliveryWindow window_;  // writer thread (and start()), except its figures

  std::mutex wmu_;
  std::condition_variable wcv_;
  std::vector<Request> submitted_;  // not yet committed
  std::vector<IndexChange> submitted_index_;  // not yet committed
  IndexSnapshot index_;             // loaded by start(), taken by the agent
  std::deque<PendingRead> index_reads_;
  Batch completions_;               // attempt results not yet committed
  std::chrono::steady_clock::time_point results_since_;  // when the oldest of them came
  std::vector<AttemptLog> attempt_logs_;  // attempt results not yet logged, in order
  std::vector<DeliveryWindow::Release> released_;  // leave memory with completions_' commit
  bool writer_stopping_ = false;
  std::thread writer_;
  int64_t poll_mark_ = 0;  // writer thread: highest outbox seq already dispatched

  std::mutex lanes_mu_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  std::vector<int64_t> own_seqs_;  // writer thread: seqs committed since the last poll
  size_t held_count_ = 0;  // guarded by wmu_: inserts the writer holds after a failed commit
  // Group commit figures, writer thread only.
  uint64_t commits_ = 0;
  size_t largest_commit_ = 0;
};

void DispatcherImpl::attempt_done(const std::shared_ptr<Item>& item, Lane& lane,
                                  const AttemptResult& result) {
  for (const auto& u : result.urls) {
    // Abandoned by shutdown: the row stays pending and is sent again at the next start.
    if (u.error == "aborted") return;
  }
  const int attempt = item->attempts + 1;
  const int64_t now = unix_ms_now();
  const Request& r = item->request;
  Batch part;
  for (const auto& u : result.urls) {
    part.url_outcomes.push_back(UrlOutcome{u.url, u.status, u.error, u.error.empty(), now});
  }
  // The log line is built by the writer thread: a sender only hands over the figures.
  AttemptLog entry{r.id, r.action, r.path, result.url, attempt, result.status, result.error,
                   result.ms, r.catch_up, AttemptLog::Outcome::kDelivered, 0};
  if (result.delivered) {
    part.delivered.push_back(r.id);
    post(std::move(part), std::move(entry), {item->seq, 0});
    return;
  }
  if (const auto delay = retry_delay(options_.retry, attempt, unit_random(), result.retry_after)) {
    const int64_t next_at = now + delay->count();
    part.retries.push_back(RetryUpdate{r.id, attempt, next_at, result.status, result.error});
    entry.outcome = AttemptLog::Outcome::kRetry;
    entry.next_at_ms = next_at;
    if (delay->count() > options_.retry_in_memory.count()) {
      // Waits in the outbox; read back when due (window.h).
      post(std::move(part), std::move(entry), {item->seq, next_at});
      return;
    }
    // Posted before the retry is queued, so that this attempt's line precedes the next one's.
    post(std::move(part), std::move(entry), {});
    item->attempts = attempt;
    item->next_at_ms = next_at;
    lane.push_retry(item);
    return;
  }
  part.dead.push_back(DeadLetter{r, attempt, result.status, result.error, result.body, now});
  entry.outcome = AttemptLog::Outcome::kDead;
  post(std::move(part), std::move(entry), {item->seq, 0});
}

void DispatcherImpl::log_attempts(std::vector<AttemptLog>& entries) {
  for (AttemptLog& e : entries) {
    nlohmann::json fields = {{"id", std::move(e.id)},   {"action", std::move(e.action)},
                             {"path", std::move(e.path)}, {"url", std::move(e.url)},
                             {"attempt", e.attempt},      {"status", e.status},
                             {"error", std::move(e.error)}, {"ms", e.ms},
                             {"catch_up", e.catch_up}};
    switch (e.outcome) {
      case AttemptLog::Outcome::kDelivered:
        fields["outcome"] = "delivered";
        logger_("info", "delivery", fields);
        break;
      case AttemptLog::Outcome::kRetry:
        fields["outcome"] = "retry";
        fields["next_at"] = format_iso_utc(e.next_at_ms);
        logger_("warn", "delivery", fields);
        break;
      case AttemptLog::Outcome::kDead:
        fields["outcome"] = "dead";
        logger_("error", "delivery", fields);
        break;
    }
  }
  entries.clear();
}

void DispatcherImpl::poll_foreign_rows() {
  std::vector<int64_t> seqs;
  std::string error;
  if (!outbox_->pending_seqs(poll_mark_, seqs, error)) return;
  std::sort(own_seqs_.begin(), own_seqs_.end());
  for (const int64_t seq : seqs) {
    if (std::binary_search(own_seqs_.begin(), own_seqs_.end(), seq)) continue;
    // A row this dispatcher did not write or read: `folderhook replay` while the agent runs.
    window_.foreign(seq);
  }
  // Rows committed by anyone after this poll get higher seqs than every seq seen so far.
  for (const int64_t seq : seqs) poll_mark_ = std::max(poll_mark_, seq);
  for (const int64_t seq : own_seqs_) poll_mark_ = std::max(poll_mark_, seq);
  own_seqs_.clear();
}

// Without either helper the writer does the work itself (synchronous=FULL, SQLite's automatic
// checkpoint): slower, as durable, and said once in the log.
void DispatcherImpl::start_wal_helpers() {
  const std::string db = options_.state_dir + "/outbox.db";
  std::string error;
  syncer_ = WalSyncer::start(db + "-wal", logger_, error);
  if (syncer_ && !outbox_->set_synced(false, error)) syncer_.reset();
  if (!syncer_) {
    logger_("warn", "outbox commits are synced on the writer thread", {{"error", error}});
  }
  checkpointer_ = Checkpointer::start(db, outbox_->handle(), logger_, error);
  if (!checkpointer_) {
    logger_("warn", "outbox checkpoints run on the writer thread", {{"error", error}});
  }
}

// New requests and index changes are committed at once. Attempt results alone wait up to
// options_.result_delay (20 ms) for company: they go with the next new requests, or on their own once the
// oldest has waited that long. A crash before they are committed costs a duplicate attempt
// (at least once), never a request; committing each result on its own doubled a burst's
// commits and the pages written to the WAL. Returns after `idle` without work too (the poll for
// rows written by `folderhook replay`, every 2 s; a retry waiting in the outbox comes due).
void DispatcherImpl::wait_for_work(std::unique_lock<std::mutex>& lock,
                                   std::chrono::milliseconds idle) {
  const auto give_up = std::chrono::steady_clock::now() + idle;
  for (;;) {
    if (writer_stopping_ || !submitted_.empty() || !submitted_index_.empty() ||
        !index_reads_.empty()) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!completions_.empty()) {
      const auto due = results_since_ + options_.result_delay;
      if (now >= due) return;
      wcv_.wait_until(lock, due);
    } else {
      if (now >= give_up) return;
      wcv_.wait_until(lock, give_up);
    }
  }
}

// Writer thread, under wmu_: what was submitted, up to the first pending index read, and the
// reads that this commit is to answer (the rest waits for the next round).
std::vector<DispatcherImpl::PendingRead> DispatcherImpl::take_submitted(
    std::vector<Request>& requests, std::vector<IndexChange>& changes) {
  std::vector<PendingRead> reads;
  if (index_reads_.empty()) {
    requests = std::exchange(submitted_, {});
    changes = std::exchange(submitted_index_, {});
    return reads;
  }
  const size_t n_requests = index_reads_.front().requests;
  const size_t n_changes = index_reads_.front().changes;
  const auto take_front = [](auto& from, size_t n, auto& to) {
    if (n == from.size()) {
      to = std::exchange(from, {});
      return;
    }
    to.assign(std::make_move_iterator(from.begin()),
              std::make_move_iterator(from.begin() + static_cast<std::ptrdiff_t>(n)));
    from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
  };
  take_front(submitted_, n_requests, requests);
  take_front(submitted_index_, n_changes, changes);
  while (!index_reads_.empty() && index_reads_.front().requests == n_requests &&
         index_reads_.front().changes == n_changes) {
    reads.push_back(std::move(index_reads_.front()));
    index_reads_.pop_front();
  }
  for (PendingRead& later : index_reads_) {
    later.requests -= n_requests;
    later.changes -= n_changes;
  }
  return reads;
}

// Writer thread. A read that follows changes the outbox could not commit would miss them: it
// fails instead (the caller's scan then says so) rather than waiting for the disk.
void DispatcherImpl::answer_index_reads(std::vector<PendingRead>& reads, bool committed) {
  for (PendingRead& pending : reads) {
    if (pending.committed) {
      pending.committed(committed);
      continue;
    }
    IndexRead& read = pending.done;
    IndexSnapshot snapshot;
    std::string error;
    if (!committed) {
      error = "the outbox cannot commit the index changes before the read";
    } else if (!outbox_->load_index(snapshot, error)) {
      snapshot = {};
      error = "cannot read the index: " + error;
    }
    read(std::move(snapshot), std::move(error));
  }
  reads.clear();
}

void DispatcherImpl::run_writer() {
  std::vector<Request> held;  // inserts whose commit failed (full disk), oldest first
  Batch held_completions;
  std::vector<DeliveryWindow::Release> held_released;
  bool failing = false;
  bool read_failing = false;
  int failures_while_stopping = 0;
  auto last_poll = std::chrono::steady_clock::now();
  std::unique_lock lock(wmu_);
  for (;;) {
    // Woken for a retry that waits in the outbox too.
    const auto until_retry =
        std::chrono::milliseconds(std::max<int64_t>(0, window_.next_check_ms() - unix_ms_now()));
    if (failing) {
      wcv_.wait_for(lock, std::min<std::chrono::milliseconds>(1s, until_retry),
                    [this] { return writer_stopping_; });
    } else {
      wait_for_work(lock, std::min<std::chrono::milliseconds>(2s, until_retry));
    }
    const bool stop = writer_stopping_;
    Batch batch = std::move(completions_);
    completions_ = Batch{};
    std::vector<AttemptLog> logs = std::move(attempt_logs_);
    attempt_logs_.clear();
    std::vector<DeliveryWindow::Release> released = std::move(held_released);
    held_released.clear();
    released.insert(released.end(), released_.begin(), released_.end());
    released_.clear();
    std::vector<Request> incoming;
    std::vector<IndexChange> incoming_index;
    std::vector<PendingRead> reads = take_submitted(incoming, incoming_index);
    held_count_ = held.size() + incoming.size();
    lock.unlock();

    for (auto& r : incoming) {
      if (r.id.empty()) r.id = new_id();
    }
    auto prepend = [](auto& to, auto& from) {
      to.insert(to.begin(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
      from.clear();
    };
    batch.inserts = std::move(held);
    held.clear();
    batch.inserts.insert(batch.inserts.end(), std::make_move_iterator(incoming.begin()),
                         std::make_move_iterator(incoming.end()));
    prepend(batch.delivered, held_completions.delivered);
    prepend(batch.retries, held_completions.retries);
    prepend(batch.dead, held_completions.dead);
    prepend(batch.url_outcomes, held_completions.url_outcomes);
    batch.index_changes = std::move(held_completions.index_changes);
    held_completions.index_changes.clear();
    append_moved(batch.index_changes, incoming_index);

    bool committed = true;
    const bool large = batch.index_changes.size() >= kTrimAfterIndexChanges;
    if (!batch.empty()) {
      std::vector<int64_t> seqs;
      std::string error;
      bool disk_full = false;
      if (outbox_->commit(batch, seqs, error, disk_full)) {
        if (failing) {
          logger_("warn", "outbox writable again; held requests written",
                  {{"written", batch.inserts.size()}});
        }
        failing = false;
        // Inserts and index changes must survive a power cut: synced while they are sent.
        if (syncer_ && (!batch.inserts.empty() || !batch.index_changes.empty())) {
          syncer_->request();
        }
        ++commits_;
        largest_commit_ = std::max(largest_commit_, batch.size());
        window_.release(released);
        for (size_t i = 0; i < batch.inserts.size(); ++i) {
          if (seqs[i] == 0) continue;  // that id was already pending
          own_seqs_.push_back(seqs[i]);
          if (!stopping_.load()) window_.committed(seqs[i], std::move(batch.inserts[i]));
        }
        if (!batch.dead.empty() && notifier_) notifier_->wake();
      } else {
        committed = false;
        if (!failing) {
          logger_("error",
                  disk_full ? "outbox disk full: holding new requests in memory until space returns"
                            : "outbox write failed: holding new requests in memory and retrying",
                  {{"error", error},
                   {"state_dir", options_.state_dir},
                   {"held", batch.inserts.size()},
                   {"max_held", options_.max_held}});
        }
        failing = true;
        held = std::move(batch.inserts);
        held_released = std::move(released);
        held_completions = std::move(batch);
        held_completions.inserts.clear();
        if (stop && ++failures_while_stopping >= 3) {
          logger_("error", "outbox still not writable at shutdown: held requests lost",
                  {{"error", error}, {"lost", held.size()}});
          log_attempts(logs);
          lock.lock();
          for (PendingRead& read : index_reads_) reads.push_back(std::move(read));
          index_reads_.clear();
          lock.unlock();
          for (PendingRead& read : reads) {
            if (read.committed) read.committed(false);
            else read.done({}, "the outbox cannot commit: " + error);
          }
          return;
        }
      }
    }
    if (large && committed) {
      // A first index is written once and then freed: its pages go back to the system, not to
      // the heap's free lists (glibc keeps freed memory above the heap's top otherwise).
      batch = Batch{};
      malloc_trim(0);
    }
    if (!stop) {
      std::string error;
      const bool read = window_.fill(*outbox_, unix_ms_now(), error);
      if (!read && !read_failing) {
        logger_("error", "cannot read the outbox; trying again", {{"error", error}});
      }
      read_failing = !read;
    }
    // Logged after the commit that records them; after a failed commit too (the attempts
    // happened, and the log must not wait for a full disk).
    log_attempts(logs);
    answer_index_reads(reads, committed);
    if (!stop && std::chrono::steady_clock::now() - last_poll > 2s) {
      poll_foreign_rows();
      last_poll = std::chrono::steady_clock::now();
    }
    lock.lock();
    held_count_ = held.size();
    if (stop && committed && submitted_.empty() && completions_.empty() &&
        submitted_index_.empty() && index_reads_.empty()) {
      break;
    }
  }
  if (syncer_) syncer_->flush();  // the last commits are synced before the line says so
  logger_("debug", "outbox writer stopped",
          {{"commits", commits_},
           {"largest_commit", largest_commit_},
           {"window", window_.limit()},
           {"peak_in_memory", window_.peak()},
           {"read_back", window_.read_back()},
           {"syncs", syncer_ ? syncer_->syncs() : 0},
           {"checkpoints", checkpointer_ ? checkpointer_->checkpoints() : 0}});
}

}  // namespace

std::unique_ptr<Dispatcher> open_dispatcher(DispatcherOptions options, Logger logger,
                                            std::string& error) {
  if (options.state_dir.empty()) {
    error = "state_dir is empty";
    return nullptr;
  }
  auto lock = StateLock::acquire(options.state_dir, error);
  if (!lock) return nullptr;
  auto outbox = Outbox::open(options.state_dir, error);
  if (!outbox) return nullptr;
  auto dispatcher = std::make_unique<DispatcherImpl>(std::move(options), std::move(logger),
                                                     std::move(lock), std::move(outbox));
  if (!dispatcher->start(error)) return nullptr;
  return dispatcher;
}

}  // namespace folderhook::delivery
