// LanePolicy: how a folder's URL set is paced (max_per_second) and grouped (batch_max,
// batch_wait), issue 20. agent/ puts it into each Request's settings (so that a delivery in the
// outbox carries the policy it was made with, like its URLs) and delivery/ reads it back: the
// requests whose URLs and method are the same share one lane, one token bucket (rate.h) and one
// batch former, which follow the policy of the lane's newest row (Lane::adopt). Pure.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "delivery/request.h"

namespace folderhook::delivery {

// The largest batch_max: a batch is one request body, built in memory, and its members are held
// in the in-memory window together.
inline constexpr size_t kMaxBatch = 1000;
// The largest max_per_second accepted (above it, pacing is meaningless next to the senders).
inline constexpr double kMaxRate = 1'000'000;

struct LanePolicy {
  double max_per_second = 0;  // 0 = no limit; fractions allowed (0.5 = one every 2 s)
  size_t batch_max = 1;       // 1 = no batching
  std::chrono::milliseconds batch_wait{1000};
  bool batching() const { return batch_max > 1; }
  bool operator==(const LanePolicy&) const = default;
};

// Appends the policy's settings that differ from the defaults (none for a default policy, so
// that requests without a policy encode as before).
void put_lane_policy(const LanePolicy& policy,
                     std::vector<std::pair<std::string, std::string>>& settings);
// The policy stored in a request's settings; the defaults for what is absent or unreadable,
// clamped to the ranges above.
LanePolicy lane_policy(const Request& request);

}  // namespace folderhook::delivery
