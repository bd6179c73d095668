// Lane: the sender threads of one URL set. First attempts leave in submission order from a
// FIFO: a first-attempt thread takes the oldest one, or whatever has queued up to the lane's
// batch (LaneShape: the pipeline depth for HTTP, large for NATS), handed to the sink as one
// batch; with one such thread they arrive in order; with several, they may arrive out of order;
// retries wait in a separate queue ordered by due time, served by their own threads, so that
// retries never delay first attempts. A dead or slow URL set only ever occupies its own lane.
//
// The lane's policy (lane_policy.h, the newest row's: adopt()): with max_per_second, every attempt (first or retry, from
// any of its threads) takes a token of the lane's one bucket (rate.h) before it starts; a
// thread without a token waits on the lane's condition until the next token is due (no busy
// loop; other lanes never wait). What waits stays queued in order, and behind it in the outbox.
// With batch_max > 1, first attempts leave as batches (batch.h): up to batch_max in order, once
// that many wait or the oldest has waited batch_wait; the batch's membership is committed
// (LaneOwner::record_batch) before it is first sent, so that a retry or a start after a crash
// sends the same members under the same webhook-id. Members read back from the outbox are
// regrouped by their stored batch id. A batch is one attempt: one token, one result for all.
//
// A streaming lane (LaneShape::stream: HTTP over several connections) has one first-attempt
// thread that hands its sink one request at a time as connections come free (Sink::stream):
// it takes from the queue when the sink asks, and hands each result to the owner as it comes.
// A request queued, a token or a batch come due while it waits for answers wake it (a timerfd).
// A request its primary URL refused goes on to the redundant URLs once the requests then in
// flight are answered (no new ones are taken meanwhile).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "delivery/attempt.h"
#include "delivery/dispatcher.h"
#include "delivery/lane_policy.h"
#include "delivery/rate.h"
#include "delivery/request.h"
#include "delivery/sink_set.h"

namespace folderhook::delivery {

class Lane;

// A committed delivery in memory, or a batch of them. Only its lane's threads touch it between
// attempts.
struct Item {
  int64_t seq = 0;  // 0 for a batch
  Request request;  // a batch's: the one POST of all its members (batch.h)
  int attempts = 0;
  int64_t next_at_ms = 0;
  // A member of a batch whose membership is committed: the batch's id and size. A batch itself
  // has its id here too, and its members below.
  std::string batch_id;
  size_t batch_size = 0;
  std::vector<std::shared_ptr<Item>> members;
  std::chrono::steady_clock::time_point queued_at{};  // when it joined the first-attempt queue
};

// What a lane needs from its dispatcher. Called from the lane's threads.
class LaneOwner {
 public:
  virtual ~LaneOwner() = default;
  virtual const DispatcherOptions& options() const = 0;
  virtual std::unique_ptr<SinkSet> make_sinks() const = 0;
  // The result of one attempt; may push the item back as a retry.
  virtual void attempt_done(const std::shared_ptr<Item>& item, Lane& lane,
                            const AttemptResult& result) = 0;
  // Commits that these member rows form the batch `batch_id`; blocks until the commit is done.
  // false when it could not be committed (the batch is sent anyway: its members keep their own
  // ids, only the batch's id would not survive a crash).
  virtual bool record_batch(const std::string& batch_id, const std::vector<std::string>& ids) = 0;
};

// One URL set: its first attempts in submission order, its retries by due time, and the
// threads that send them. A dead or slow URL set only ever occupies its own threads.
class Lane {
 public:
  Lane(LaneOwner& owner, LaneShape shape, int retry_senders, LanePolicy policy = {});
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // The policy of the newest row (highest seq) of the lane wins: a rules change reaches the
  // URL set with its first new operation, and a backlog read back later does not undo it.
  void adopt(const LanePolicy& policy, int64_t seq);
  void push_first(std::shared_ptr<Item> item);
  void push_retry(std::shared_ptr<Item> item);
  // Takes nothing new, lets the attempts in flight finish for up to kStopGrace (so that a
  // receiver's answer is recorded rather than sent again), then abandons the rest (they are
  // sent again at the next start) and joins.
  static constexpr std::chrono::milliseconds kStopGrace{2000};
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  // Members of a stored batch being gathered again (read back from the outbox).
  struct Group {
    std::vector<std::shared_ptr<Item>> members;
    size_t size = 0;
    Clock::time_point deadline;
  };

  void run_first(SinkSet& sinks);
  // A streaming lane's turn with `items` (taken, batches formed): streams them and whatever
  // the queue holds while the sink asks, then sends the refused ones to their redundant URLs.
  // false when the sink of their primary URL does not stream (nothing was sent).
  bool stream_first(const std::vector<std::shared_ptr<Item>>& items, SinkSet& sinks);
  // Under mu_: a first attempt (or batch) is queued; wakes a first sender or the stream.
  void wake_first(bool all);
  // Under mu_: the stream (waiting for answers) asks for requests again at `at`.
  void wake_stream_at(Clock::time_point at);
  void run_retry(SinkSet& sinks);
  void attempt(const std::shared_ptr<Item>& item, SinkSet& sinks);
  // Under mu_: waits (or returns false to wait) for the first attempts to send now, in
  // `items`: a batch, or up to batch_ single items. Sets `wake` to when to look again.
  bool take_first(std::vector<std::shared_ptr<Item>>& items, Clock::time_point now,
                  Clock::time_point& wake);
  // Under mu_: a member of a stored batch joins its group; a complete group (or one past its
  // deadline) becomes a batch item in the first or the retry queue.
  void regroup(std::shared_ptr<Item> item);
  void expire_groups(Clock::time_point now, Clock::time_point& wake);
  void queue_batch(std::shared_ptr<Item> batch);
  // Outside mu_: a new batch of these first attempts, its membership committed.
  std::shared_ptr<Item> form_batch(std::vector<std::shared_ptr<Item>>&& members);

  LaneOwner& owner_;
  const size_t batch_;
  const bool stream_;
  // A streaming lane's timerfd: wakes the stream when something is queued or comes due while
  // it waits for answers (Sink::stream's wake_fd).
  int wake_fd_ = -1;
  bool stream_waiting_ = false;  // under mu_: the stream found nothing to send now
  LanePolicy policy_;       // under mu_
  int64_t policy_seq_ = 0;  // under mu_: the row policy_ came from
  std::mutex mu_;
  std::condition_variable cv_first_;
  std::condition_variable cv_retry_;
  std::condition_variable cv_idle_;
  int in_flight_ = 0;
  TokenBucket bucket_;
  std::deque<std::shared_ptr<Item>> first_;
  std::multimap<int64_t, std::shared_ptr<Item>> retries_;
  std::map<std::string, Group> groups_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<SinkSet>> senders_;
  std::vector<std::thread> threads_;
};

}  // namespace folderhook::delivery
