// The writer thread of DispatcherImpl (dispatcher_impl.h), which owns the outbox's write
// connection. Each round commits what was submitted and what the senders posted in one transaction
// (group commit), hands the committed inserts to the window and refills it from the outbox,
// logs the attempts that commit recorded, answers the index reads that waited for it, and every
// 2 s polls for rows another process wrote. A failed commit (full disk) is held and tried again
// every second.

#include <algorithm>
#include <utility>

#include "common/release_memory.h"
#include "delivery/batch.h"
#include "delivery/dispatcher_impl.h"
#include "delivery/request_codec.h"
#include "delivery/retry.h"

namespace folderhook::delivery::detail {
namespace {

using namespace std::chrono_literals;

// A commit of at least this many index changes (a first index, a whole folder's catch-up) is
// followed by release_free_memory().
constexpr size_t kTrimAfterIndexChanges = 10000;

}  // namespace

void DispatcherImpl::log_attempts(std::vector<AttemptLog>& entries) {
  if (entries.empty()) return;
  if (options_.attempt_logger) {
    try {
      options_.attempt_logger(entries);
    } catch (...) {
      // As safe_logger: nothing may escape into the writer thread; those lines are lost.
    }
    entries.clear();
    return;
  }
  for (AttemptLog& e : entries) {
    const std::string_view level = attempt_level(e);
    logger_(level, "delivery", attempt_fields(std::move(e)));
  }
  entries.clear();
}

void DispatcherImpl::log_unreadable_rows() {
  for (const DeliveryWindow::Unreadable& row : window_.take_unreadable()) {
    const bool newer = row.encoding > kRequestEncoding;
    logger_("error", "a pending request cannot be read; it stays in the outbox",
            {{"seq", row.seq},
             {"encoding", row.encoding},
             {"cause", newer ? "written by a newer folderhook (this one reads encodings 1 to " +
                                   std::to_string(kRequestEncoding) + ")"
                             : std::string("damaged: truncated or malformed")}});
  }
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

// New requests and index changes are committed at once, or options_.commit_gap (2 ms) after
// the commit before if that was sooner: a burst's requests share commits. Index reads and batch
// marks never wait (a scan and a lane wait for them). Attempt results alone wait up to
// options_.result_delay (20 ms) for company: they go with the next new requests, or on their own
// once the oldest has waited that long. A crash before they are committed costs a duplicate attempt
// (at least once), never a request; committing each result on its own doubled a burst's
// commits and the pages written to the WAL. Returns after `idle` without work too (the poll for
// rows written by `folderhook replay`, every 2 s; a retry waiting in the outbox comes due).
void DispatcherImpl::wait_for_work(std::unique_lock<std::mutex>& lock,
                                   std::chrono::milliseconds idle) {
  const auto give_up = std::chrono::steady_clock::now() + idle;
  for (;;) {
    if (writer_stopping_ || !index_reads_.empty() || !batch_marks_.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    if (!submitted_.empty() || !submitted_index_.empty()) {
      if (!last_commit_) return;
      const auto due = *last_commit_ + options_.commit_gap;
      if (now >= due) return;
      wcv_.wait_until(lock, due);
    } else if (!completions_.empty()) {
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
    batch.batch_marks = std::exchange(batch_marks_, {});
    auto mark_waiters = std::exchange(mark_waiters_, {});
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
      if (r.id.empty()) r.id = new_request_id();
    }
    auto prepend = [](auto& to, auto& from) {
      to.insert(to.begin(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
      from.clear();
    };
    if (held.empty()) {
      batch.inserts = std::move(incoming);  // the common case: no element moved one by one
    } else {
      batch.inserts = std::move(held);
      batch.inserts.insert(batch.inserts.end(), std::make_move_iterator(incoming.begin()),
                           std::make_move_iterator(incoming.end()));
    }
    held.clear();
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
      if (!batch.inserts.empty() || !batch.index_changes.empty()) {
        last_commit_ = std::chrono::steady_clock::now();
      }
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
        held_completions.batch_marks.clear();  // their lanes are told, and send anyway
        if (stop && ++failures_while_stopping >= 3) {
          for (auto& waiter : mark_waiters) waiter->set_value(false);
          logger_("error", "outbox still not writable at shutdown: held requests lost",
                  {{"error", error}, {"lost", held.size()}});
          log_attempts(logs);
          lock.lock();
          for (PendingRead& read : index_reads_) reads.push_back(std::move(read));
          index_reads_.clear();
          lock.unlock();
          for (PendingRead& read : reads) {
            if (read.committed) {
              read.committed(false);
            } else {
              read.done({}, "the outbox cannot commit: " + error);
            }
          }
          return;
        }
      }
    }
    // A lane waits on its batch's membership before it sends the batch.
    for (auto& waiter : mark_waiters) waiter->set_value(committed);
    mark_waiters.clear();
    if (large && committed) {
      // A first index is written once and then freed: its pages go back to the system, not to
      // the heap's free lists (both glibc and jemalloc would keep them a while otherwise).
      batch = Batch{};
      release_free_memory();
    }
    if (!stop) {
      std::string error;
      const bool read = window_.fill(*outbox_, unix_ms_now(), error);
      if (!read && !read_failing) {
        logger_("error", "cannot read the outbox; trying again", {{"error", error}});
      }
      read_failing = !read;
      log_unreadable_rows();
    }
    // Logged after the commit that records them; after a failed commit too (the attempts
    // happened, and the log must not wait for a full disk).
    log_attempts(logs);
    answer_index_reads(reads, committed);
    if (!stop && std::chrono::steady_clock::now() - last_poll > 2s) {
      poll_foreign_rows();
      last_poll = std::chrono::steady_clock::now();
    }
    outbox_failing_.store(failing, std::memory_order_relaxed);
    uncommitted_.store(held.size(), std::memory_order_relaxed);
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

}  // namespace folderhook::delivery::detail

namespace folderhook::delivery {

namespace {

// The level and the `outcome` of an attempt's line.
std::pair<std::string_view, std::string_view> line_names(AttemptLog::Outcome outcome) {
  switch (outcome) {
    case AttemptLog::Outcome::kRetry: return {"warn", "retry"};
    case AttemptLog::Outcome::kDead: return {"error", "dead"};
    case AttemptLog::Outcome::kDelivered: break;
  }
  return {"info", "delivered"};
}

}  // namespace

std::string_view attempt_level(const AttemptLog& e) { return line_names(e.outcome).first; }
std::string_view attempt_outcome(const AttemptLog& e) { return line_names(e.outcome).second; }

nlohmann::json attempt_fields(AttemptLog&& e) {
  // Assigned key by key: an initializer list would copy every value once more.
  nlohmann::json fields = nlohmann::json::object();
  fields["id"] = std::move(e.id);
  fields["action"] = std::move(e.action);
  fields["path"] = std::move(e.path);
  fields["url"] = std::move(e.url);
  fields["attempt"] = e.attempt;
  fields["status"] = e.status;
  fields["error"] = std::move(e.error);
  fields["ms"] = e.ms;
  fields["catch_up"] = e.catch_up;
  if (e.members > 0) fields["batch"] = e.members;
  fields["outcome"] = attempt_outcome(e);
  if (e.outcome == AttemptLog::Outcome::kRetry) fields["next_at"] = format_iso_utc(e.next_at_ms);
  return fields;
}

}  // namespace folderhook::delivery
