#include "delivery/lane.h"

#include "delivery/batch.h"
#include "delivery/outbox.h"

#include <pthread.h>

#include <algorithm>

namespace folderhook::delivery {
namespace {

// A stored batch whose members do not all come back (one was delivered by hand, or is
// unreadable) is sent with those that did, under its id, once this has passed.
constexpr std::chrono::milliseconds kRegroupGrace{2000};

// The batch item of these members (in seq order), under `id`. It is as far along as its
// furthest member (they share every attempt, so they agree unless one was replayed by hand).
std::shared_ptr<Item> make_batch_item(const std::string& id,
                                      std::vector<std::shared_ptr<Item>>&& members) {
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a->seq < b->seq; });
  std::vector<const Request*> requests;
  auto batch = std::make_shared<Item>();
  for (const auto& m : members) {
    requests.push_back(&m->request);
    batch->attempts = std::max(batch->attempts, m->attempts);
    batch->next_at_ms = std::max(batch->next_at_ms, m->next_at_ms);
  }
  batch->request = batch_request(id, requests);
  batch->batch_id = id;
  batch->batch_size = members.size();
  batch->members = std::move(members);
  return batch;
}

}  // namespace

Lane::Lane(LaneOwner& owner, LaneShape shape, int retry_senders, LanePolicy policy)
    : owner_(owner),
      batch_(std::max<size_t>(1, shape.batch)),
      policy_(policy),
      bucket_(policy.max_per_second, Clock::now()) {
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

void Lane::adopt(const LanePolicy& policy, int64_t seq) {
  std::lock_guard lock(mu_);
  if (seq <= policy_seq_) return;
  policy_seq_ = seq;
  if (policy == policy_) return;  // the usual case: called for every request
  if (policy.max_per_second != policy_.max_per_second) {
    bucket_.set_rate(policy.max_per_second, Clock::now());
  }
  policy_ = policy;
  // The senders wait on deadlines the policy set (a token, a batch's wait).
  cv_first_.notify_all();
  cv_retry_.notify_all();
}

void Lane::push_first(std::shared_ptr<Item> item) {
  std::lock_guard lock(mu_);
  if (!item->batch_id.empty() && item->members.empty()) {
    regroup(std::move(item));
    return;
  }
  item->queued_at = Clock::now();
  first_.push_back(std::move(item));
  cv_first_.notify_one();
}

void Lane::push_retry(std::shared_ptr<Item> item) {
  std::lock_guard lock(mu_);
  if (!item->batch_id.empty() && item->members.empty()) {
    regroup(std::move(item));
    return;
  }
  retries_.emplace(item->next_at_ms, std::move(item));
  cv_retry_.notify_all();
}

void Lane::regroup(std::shared_ptr<Item> item) {
  Group& group = groups_[item->batch_id];
  if (group.members.empty()) {
    group.size = std::max<size_t>(1, item->batch_size);
    group.deadline = Clock::now() + std::max(policy_.batch_wait, kRegroupGrace);
  }
  const std::string id = item->batch_id;
  group.members.push_back(std::move(item));
  if (group.members.size() >= group.size) {
    auto members = std::move(group.members);
    groups_.erase(id);
    queue_batch(make_batch_item(id, std::move(members)));
  }
  cv_first_.notify_all();  // a first sender watches the groups' deadlines
}

void Lane::expire_groups(Clock::time_point now, Clock::time_point& wake) {
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (it->second.deadline <= now) {
      auto members = std::move(it->second.members);
      const std::string id = it->first;
      it = groups_.erase(it);
      queue_batch(make_batch_item(id, std::move(members)));
    } else {
      wake = std::min(wake, it->second.deadline);
      ++it;
    }
  }
}

void Lane::queue_batch(std::shared_ptr<Item> batch) {
  if (batch->attempts == 0) {
    batch->queued_at = Clock::now();
    // Stored batches are older than anything queued after them: they go first.
    first_.push_front(std::move(batch));
    cv_first_.notify_one();
  } else {
    retries_.emplace(batch->next_at_ms, std::move(batch));
    cv_retry_.notify_all();
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

bool Lane::take_first(std::vector<std::shared_ptr<Item>>& items, Clock::time_point now,
                      Clock::time_point& wake) {
  wake = Clock::time_point::max();
  if (policy_.batching()) expire_groups(now, wake);
  if (first_.empty()) return false;
  size_t n = std::min(first_.size(), batch_);
  if (policy_.batching()) {
    n = 1;  // a batch already formed
    if (first_.front()->members.empty()) {
      // Single items in a row, up to batch_max; sent once that many wait or the oldest has
      // waited batch_wait.
      n = 0;
      while (n < first_.size() && n < policy_.batch_max && first_[n]->members.empty()) ++n;
      const auto due = first_.front()->queued_at + policy_.batch_wait;
      if (n < policy_.batch_max && n == first_.size() && now < due) {
        wake = std::min(wake, due);
        return false;
      }
    }
  }
  // One token per request handed to the sink; a batch is one request.
  const size_t tokens = bucket_.take(policy_.batching() ? 1 : n, now);
  if (tokens == 0) {
    wake = std::min(wake, bucket_.next_token(now));
    return false;
  }
  if (!policy_.batching()) n = tokens;
  for (size_t i = 0; i < n; ++i) {
    items.push_back(std::move(first_.front()));
    first_.pop_front();
  }
  return true;
}

void Lane::run_first(SinkSet& sender) {
  std::vector<std::shared_ptr<Item>> items;
  std::vector<const Request*> requests;
  for (;;) {
    items.clear();
    requests.clear();
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) return;
        Clock::time_point wake;
        if (take_first(items, Clock::now(), wake)) break;
        if (wake == Clock::time_point::max()) {
          cv_first_.wait(lock);
        } else {
          cv_first_.wait_until(lock, wake);
        }
      }
      in_flight_ += static_cast<int>(items.size());
    }
    const auto in_flight = static_cast<int>(items.size());
    if (policy_.batching() && items.front()->members.empty()) {
      auto batch = form_batch(std::move(items));
      items.clear();
      items.push_back(std::move(batch));
    }
    for (const auto& item : items) requests.push_back(&item->request);
    const auto results = run_attempts(requests, sender);
    for (size_t i = 0; i < items.size(); ++i) owner_.attempt_done(items[i], *this, results[i]);
    std::lock_guard lock(mu_);
    in_flight_ -= in_flight;
    cv_idle_.notify_all();
  }
}

std::shared_ptr<Item> Lane::form_batch(std::vector<std::shared_ptr<Item>>&& members) {
  const std::string id = new_request_id();
  std::vector<std::string> ids;
  ids.reserve(members.size());
  for (auto& m : members) {
    ids.push_back(m->request.id);
    m->batch_id = id;
    m->batch_size = members.size();
  }
  owner_.record_batch(id, ids);
  return make_batch_item(id, std::move(members));
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
        if (wait > 0) {
          cv_retry_.wait_for(lock, std::chrono::milliseconds(wait));
          continue;
        }
        // Due: it waits for a token like a first attempt (they share the bucket).
        const auto now = Clock::now();
        if (bucket_.take(1, now) == 1) break;
        cv_retry_.wait_until(lock, bucket_.next_token(now));
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
