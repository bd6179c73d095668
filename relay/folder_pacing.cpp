#include "relay/folder_pacing.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace folderhook::relay {
namespace {

using PacingClock = delivery::TokenBucket::Clock;

// How long one sleep lasts at most while waiting for a token: how soon a stop is seen.
constexpr std::chrono::milliseconds kPacingSlice{100};

}  // namespace

FolderPacing::FolderPacing(const std::vector<agent::FolderRule>& folders) {
  const auto now = PacingClock::now();
  all_paced_ = !folders.empty();
  for (const agent::FolderRule& rule : folders) {
    if (rule.pacing.max_per_second <= 0) {
      all_paced_ = false;
      continue;
    }
    buckets_.emplace(&rule, delivery::TokenBucket(rule.pacing.max_per_second, now));
    total_rate_ += rule.pacing.max_per_second;
  }
}

bool FolderPacing::wait_turn(const agent::FolderRule& rule, const std::atomic<bool>& stop,
                             std::chrono::milliseconds touch_every,
                             const std::function<void()>& keep_alive) {
  const auto it = buckets_.find(&rule);
  if (it == buckets_.end()) return true;
  delivery::TokenBucket& bucket = it->second;
  auto touched = PacingClock::now();
  while (!stop) {
    const auto now = PacingClock::now();
    if (bucket.take(1, now) == 1) return true;
    if (now - touched >= touch_every) {
      keep_alive();
      touched = now;
    }
    const auto until = std::min(bucket.next_token(now), now + kPacingSlice);
    std::this_thread::sleep_until(until);
  }
  return false;
}

int FolderPacing::fetch_size(int batch, std::chrono::milliseconds wait) const {
  if (!all_paced_) return batch;
  const double can = std::ceil(total_rate_ * std::chrono::duration<double>(wait).count());
  return static_cast<int>(std::clamp<double>(can, 1, batch));
}

}  // namespace folderhook::relay
