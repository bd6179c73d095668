#include "delivery/lane.h"

#include "delivery/outbox.h"

#include <pthread.h>

#include <algorithm>

namespace folderhook::delivery {

Lane::Lane(LaneOwner& owner, LaneShape shape, int retry_senders)
    : owner_(owner), batch_(std::max<size_t>(1, shape.batch)) {
  const int first_senders = std::max(1, shape.first_senders);
  for (int i = 0; i < first_senders + retry_senders; ++i) {
    senders_.push_back(owner_.make_sinks());
  }
  for (int i = 0; i < first_senders + retry_senders; ++i) {
    SinkSet& sender = *senders_[static_cast<size_t>(i)];
    if (i < first_senders) {
      threads_.emplace_back([this, &sender] {
        pthread_setname_np(pthread_self(), "sender");
        run_first(sender);
      });
    } else {
      threads_.emplace_back([this, &sender] {
        pthread_setname_np(pthread_self(), "retry-sender");
        run_retry(sender);
      });
    }
  }
}

void Lane::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_first_.notify_all();
    cv_retry_.notify_all();
  }
  {
    std::unique_lock lock(mu_);
    cv_idle_.wait_for(lock, kStopGrace, [this] { return in_flight_ == 0; });
  }
  for (auto& sender : senders_) sender->abort();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Lane::run_first(SinkSet& sender) {
  std::vector<std::shared_ptr<Item>> items;
  std::vector<const Request*> requests;
  for (;;) {
    items.clear();
    requests.clear();
    {
      std::unique_lock lock(mu_);
      cv_first_.wait(lock, [this] { return stopping_ || !first_.empty(); });
      if (stopping_) return;
      // Whatever has queued up, in order, up to the lane's batch: one call of the sink.
      while (!first_.empty() && items.size() < batch_) {
        items.push_back(std::move(first_.front()));
        first_.pop_front();
      }
      in_flight_ += static_cast<int>(items.size());
    }
    for (const auto& item : items) requests.push_back(&item->request);
    const auto results = run_attempts(requests, sender);
    for (size_t i = 0; i < items.size(); ++i) owner_.attempt_done(items[i], *this, results[i]);
    std::lock_guard lock(mu_);
    in_flight_ -= static_cast<int>(items.size());
    cv_idle_.notify_all();
  }
}

void Lane::attempt(const std::shared_ptr<Item>& item, SinkSet& sender) {
  const auto result = run_attempt(item->request, sender);
  owner_.attempt_done(item, *this, result);
  std::lock_guard lock(mu_);
  --in_flight_;
  cv_idle_.notify_all();
}

void Lane::run_retry(SinkSet& sender) {
  for (;;) {
    std::shared_ptr<Item> item;
    {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        if (retries_.empty()) {
          cv_retry_.wait(lock);
          continue;
        }
        const int64_t wait = retries_.begin()->first - unix_ms_now();
        if (wait <= 0) break;
        cv_retry_.wait_for(lock, std::chrono::milliseconds(wait));
      }
      if (stopping_) return;
      item = std::move(retries_.begin()->second);
      retries_.erase(retries_.begin());
      ++in_flight_;
    }
    attempt(item, sender);
  }
}

}  // namespace folderhook::delivery
