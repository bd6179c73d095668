#include "delivery/lane.h"

#include "delivery/batch.h"
#include "delivery/outbox.h"

#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <unordered_map>

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
      stream_(shape.stream),
      policy_(policy),
      bucket_(policy.max_per_second, Clock::now()) {
  // Without its timer a stream still works: it asks again after each answer.
  if (stream_) wake_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
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

Lane::~Lane() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
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
  wake_first(false);
}

void Lane::wake_first(bool all) {
  if (all) {
    cv_first_.notify_all();
  } else {
    cv_first_.notify_one();
  }
  if (stream_waiting_) {
    stream_waiting_ = false;
    wake_stream_at(Clock::now());
  }
}

void Lane::wake_stream_at(Clock::time_point at) {
  if (wake_fd_ < 0) return;
  // Relative, so that the steady clock and CLOCK_MONOTONIC need not agree; 0 would disarm it.
  const auto ns = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::nanoseconds>(at - Clock::now()).count());
  itimerspec when{};
  when.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  when.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  ::timerfd_settime(wake_fd_, 0, &when, nullptr);
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
  wake_first(true);  // a first sender watches the groups' deadlines
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
    wake_first(false);
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
    if (!stream_ || !stream_first(items, sender)) {
      for (const auto& item : items) requests.push_back(&item->request);
      const auto results = run_attempts(requests, sender);
      for (size_t i = 0; i < items.size(); ++i) owner_.attempt_done(items[i], *this, results[i]);
    }
    std::lock_guard lock(mu_);
    in_flight_ -= in_flight;
    cv_idle_.notify_all();
  }
}

bool Lane::stream_first(const std::vector<std::shared_ptr<Item>>& items, SinkSet& sinks) {
  const auto& urls = items.front()->request.urls;
  if (urls.empty()) return false;
  const std::string url = urls.front();  // a lane's requests share their URLs
  std::string error;
  Sink* sink = sinks.for_url(url, error);
  if (sink == nullptr) return false;
  std::deque<std::shared_ptr<Item>> ready(items.begin(), items.end());  // taken, not yet sent
  struct Flying {
    std::shared_ptr<Item> item;
    Clock::time_point start;
  };
  std::unordered_map<const Request*, Flying> flying;
  std::vector<std::shared_ptr<Item>> refused;  // by their primary: on to the redundant URLs
  std::vector<AttemptResult> refused_results;
  int taken = 0;  // in_flight_ added here
  const Sink::Next next = [&]() -> const Request* {
    // Once one waits for its redundant URLs, no more are taken from the queue.
    if (ready.empty() && refused.empty()) {
      std::vector<std::shared_ptr<Item>> more;
      bool batching;
      {
        std::lock_guard lock(mu_);
        Clock::time_point wake;
        if (stopping_ || !take_first(more, Clock::now(), wake)) {
          stream_waiting_ = !stopping_;
          // A token or a batch due later: the stream looks again then, also while it waits
          // for answers.
          if (stream_waiting_ && wake != Clock::time_point::max()) wake_stream_at(wake);
          return nullptr;
        }
        stream_waiting_ = false;
        taken += static_cast<int>(more.size());
        in_flight_ += static_cast<int>(more.size());
        batching = policy_.batching();
      }
      if (batching && more.front()->members.empty()) {
        ready.push_back(form_batch(std::move(more)));
      } else {
        ready.insert(ready.end(), more.begin(), more.end());
      }
    }
    if (ready.empty()) return nullptr;
    auto item = std::move(ready.front());
    ready.pop_front();
    const Request* request = &item->request;
    flying[request] = Flying{std::move(item), Clock::now()};
    return request;
  };
  const Sink::Done done = [&](const Request& request, SinkResult&& answer) {
    auto node = flying.extract(&request);
    if (node.empty()) return;  // not one it was given: a sink that breaks its contract
    Flying& f = node.mapped();
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                             f.start)
                           .count();
    AttemptResult result;
    record_url(request, result, url, std::move(answer), ms);
    if (!result.delivered && !attempt_aborted(result) && request.urls.size() > 1) {
      result.ms = ms;
      refused.push_back(std::move(f.item));
      refused_results.push_back(std::move(result));
      return;
    }
    complete_attempt(request, result, ms);
    owner_.attempt_done(f.item, *this, result);
  };
  if (!sink->stream(url, next, done, wake_fd_)) return false;
  // The sink's contract answers each one it took; one it did not is abandoned, like an abort
  // (sent again at the next start).
  for (auto& [request, f] : flying) {
    AttemptResult result;
    record_url(*request, result, url, SinkResult{SinkResult::Verdict::kFailed, 0,
                                                 std::string(kAborted), "", std::nullopt}, 0);
    owner_.attempt_done(f.item, *this, result);
  }
  if (!refused.empty()) {
    std::vector<const Request*> requests;
    for (const auto& item : refused) requests.push_back(&item->request);
    continue_attempts(requests, refused_results, 1, sinks);
    for (size_t i = 0; i < refused.size(); ++i) {
      owner_.attempt_done(refused[i], *this, refused_results[i]);
    }
  }
  std::lock_guard lock(mu_);
  // Taken and not sent (the stream ended before it asked for them): first in the queue again.
  for (auto it = ready.rbegin(); it != ready.rend(); ++it) first_.push_front(std::move(*it));
  in_flight_ -= taken;
  cv_idle_.notify_all();
  return true;
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
