// DispatcherImpl: the Dispatcher that open_dispatcher() returns (dispatcher.h states the
// promise). Internal to delivery/: included only by dispatcher.cpp (construction, the calls of
// the public interface, shutdown, and what a sender hands back: attempt_done, post, dispatch)
// and dispatcher_writer.cpp (the writer thread: group commits, index reads, attempt log lines,
// the poll for rows another process wrote).
//
// Ownership: it owns the state lock, the outbox's write connection (start()'s, then the writer
// thread's only), the WAL syncer and checkpointer that work on that connection's WAL, the
// notifier, the writer thread and one Lane per URL set (each with its sender threads).
// shutdown() stops the lanes, then the writer, then the WAL helpers, then frees the rest.
//
// Threads:
//   - any thread: submit(), read_index(), after_commit(), memory(); they meet the writer
//     under wmu_ (submitted_, submitted_index_, index_reads_, writer_stopping_).
//   - the owner's thread: start() (which starts the WAL helpers and the writer), take_index(),
//     shutdown() (once; the destructor calls it too).
//   - a lane's sender threads: options(), make_sinks(), attempt_done() and the post() it
//     makes (under wmu_: completions_, attempt_logs_, released_), record_batch() (under wmu_:
//     batch_marks_, mark_waiters_; it waits for the writer's next commit).
//   - the writer thread: run_writer() and what it calls; dispatch() through the window
//     (under lanes_mu_, shared with shutdown()); own_seqs_, poll_mark_ and the commit figures
//     are its alone.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "delivery/attempt.h"
#include "delivery/dispatcher.h"
#include "delivery/sink_set.h"
#include "delivery/lane.h"
#include "delivery/notifier.h"
#include "delivery/outbox.h"
#include "delivery/wal.h"
#include "delivery/window.h"

namespace folderhook::delivery::detail {

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

class DispatcherImpl final : public Dispatcher, public LaneOwner {
 public:
  DispatcherImpl(DispatcherOptions options, Logger logger, std::unique_ptr<StateLock> lock,
                 std::unique_ptr<Outbox> outbox);
  ~DispatcherImpl() override { shutdown(); }
  DispatcherImpl(const DispatcherImpl&) = delete;
  DispatcherImpl& operator=(const DispatcherImpl&) = delete;

  // Reads the indexed roots, resumes the outbox's pending rows and starts the threads. false
  // and `error` (one line, for the operator) when the index cannot be read.
  bool start(std::string& error);

  using Dispatcher::submit;
  void submit(std::vector<Request>&& requests, std::vector<IndexChange>&& changes) override;
  IndexSnapshot take_index() override { return std::exchange(index_, IndexSnapshot{}); }
  void read_index(IndexRead done) override;
  void after_commit(Committed done) override;
  MemoryFigures memory() const override {
    return MemoryFigures{window_.limit(),
                         window_.held(),
                         window_.peak(),
                         window_.read_back(),
                         outbox_failing_.load(std::memory_order_relaxed),
                         uncommitted_.load(std::memory_order_relaxed)};
  }
  void shutdown() override;

  // Called by a Lane's sender thread with the result of one attempt.
  void attempt_done(const std::shared_ptr<Item>& item, Lane& lane,
                    const AttemptResult& result) override;
  std::unique_ptr<SinkSet> make_sinks() const override {
    return std::make_unique<SinkSet>(sink_options(options_));
  }
  const DispatcherOptions& options() const override { return options_; }
  bool record_batch(const std::string& batch_id, const std::vector<std::string>& ids) override;

 private:
  // A read (or an after_commit(): `committed` set) and how much of submitted_ and
  // submitted_index_ preceded it: that much is committed before the read is answered, and
  // nothing submitted after it.
  struct PendingRead {
    IndexRead done;
    Committed committed;
    size_t requests;
    size_t changes;
  };

  // dispatcher.cpp
  void dispatch(std::shared_ptr<Item> item);
  // `releases`: the rows that leave memory once `part` is committed (seq 0: it stays).
  void post(Batch&& part, AttemptLog&& entry, std::vector<DeliveryWindow::Release>&& releases);

  // dispatcher_writer.cpp
  void start_wal_helpers();
  void wait_for_work(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds idle);
  void run_writer();
  void answer_index_reads(std::vector<PendingRead>& reads, bool committed);
  std::vector<PendingRead> take_submitted(std::vector<Request>& requests,
                                          std::vector<IndexChange>& changes);
  void poll_foreign_rows();
  void log_attempts(std::vector<AttemptLog>& entries);
  void log_unreadable_rows();  // what the window found and could not decode, once a row

  DispatcherOptions options_;
  Logger logger_;
  std::unique_ptr<StateLock> lock_;
  std::unique_ptr<Outbox> outbox_;     // the writer thread's (and start()'s) connection
  std::unique_ptr<WalSyncer> syncer_;  // syncs the WAL after commits, off the writer thread
  std::unique_ptr<Checkpointer> checkpointer_;  // copies the WAL back, off the writer thread
  std::unique_ptr<Notifier> notifier_;
  DeliveryWindow window_;  // writer thread (and start()), except its figures

  std::mutex wmu_;
  std::condition_variable wcv_;
  std::vector<Request> submitted_;            // not yet committed
  std::vector<IndexChange> submitted_index_;  // not yet committed
  IndexSnapshot index_;                       // loaded by start(), taken by the agent
  std::deque<PendingRead> index_reads_;
  Batch completions_;                                    // attempt results not yet committed
  std::chrono::steady_clock::time_point results_since_;  // when the oldest of them came
  // Writer thread: when the last commit of new requests or index changes began (commit_gap);
  // none before the first, which is not held back (however recently the machine booted).
  std::optional<std::chrono::steady_clock::time_point> last_commit_;
  std::vector<AttemptLog> attempt_logs_;                 // attempt results not yet logged, in order
  std::vector<DeliveryWindow::Release> released_;        // leave memory with completions_' commit
  // Batch memberships a lane waits on (record_batch), committed at once, and their waiters.
  std::vector<BatchMark> batch_marks_;
  std::vector<std::shared_ptr<std::promise<bool>>> mark_waiters_;
  bool writer_stopping_ = false;
  std::thread writer_;
  int64_t poll_mark_ = 0;  // writer thread: highest outbox seq already dispatched

  std::mutex lanes_mu_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  std::vector<int64_t> own_seqs_;  // writer thread: seqs committed since the last poll
  size_t held_count_ = 0;  // guarded by wmu_: inserts the writer holds after a failed commit
  // The writer's, for memory(): its last commit failed; the inserts it holds since.
  std::atomic<bool> outbox_failing_{false};
  std::atomic<size_t> uncommitted_{0};
  // Group commit figures, writer thread only.
  uint64_t commits_ = 0;
  size_t largest_commit_ = 0;
};

}  // namespace folderhook::delivery::detail
