// Lane: the sender threads of one URL set. First attempts leave in submission order from a
// FIFO: a first-attempt thread takes the oldest one, or whatever has queued up to the lane's
// batch (LaneShape: the pipeline depth for HTTP, large for NATS), handed to the sink as one
// batch; with one such thread they arrive in order; with several, they may arrive out of order;
// retries wait in a separate queue ordered by due time, served by their own threads, so that
// retries never delay first attempts. A dead or slow URL set only ever occupies its own lane.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "delivery/attempt.h"
#include "delivery/dispatcher.h"
#include "delivery/sink_set.h"
#include "delivery/request.h"

namespace folderhook::delivery {

class Lane;

// A committed delivery in memory. Only its lane's threads touch it between attempts.
struct Item {
  int64_t seq = 0;
  Request request;
  int attempts = 0;
  int64_t next_at_ms = 0;
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
};

// One URL set: its first attempts in submission order, its retries by due time, and the
// threads that send them. A dead or slow URL set only ever occupies its own threads.
class Lane {
 public:
  Lane(LaneOwner& owner, LaneShape shape, int retry_senders);
  ~Lane() { stop(); }
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void push_first(std::shared_ptr<Item> item) {
    std::lock_guard lock(mu_);
    first_.push_back(std::move(item));
    cv_first_.notify_one();
  }
  void push_retry(std::shared_ptr<Item> item) {
    std::lock_guard lock(mu_);
    retries_.emplace(item->next_at_ms, std::move(item));
    cv_retry_.notify_all();
  }
  // Takes nothing new, lets the attempts in flight finish for up to kStopGrace (so that a
  // receiver's answer is recorded rather than sent again), then abandons the rest (they are
  // sent again at the next start) and joins.
  static constexpr std::chrono::milliseconds kStopGrace{2000};
  void stop();

 private:
  void run_first(SinkSet& sinks);
  void run_retry(SinkSet& sinks);
  void attempt(const std::shared_ptr<Item>& item, SinkSet& sinks);

  LaneOwner& owner_;
  const size_t batch_;
  std::mutex mu_;
  std::condition_variable cv_first_;
  std::condition_variable cv_retry_;
  std::condition_variable cv_idle_;
  int in_flight_ = 0;
  std::deque<std::shared_ptr<Item>> first_;
  std::multimap<int64_t, std::shared_ptr<Item>> retries_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<SinkSet>> senders_;
  std::vector<std::thread> threads_;
};

}  // namespace folderhook::delivery
