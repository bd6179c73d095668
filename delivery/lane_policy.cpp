#include "delivery/lane_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace folderhook::delivery {
namespace {

constexpr const char* kRate = "max_per_second";
constexpr const char* kBatchMax = "batch_max";
constexpr const char* kBatchWait = "batch_wait_ms";

const std::string* find_setting(const Request& request, std::string_view name) {
  for (const auto& [k, v] : request.settings) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string format_rate(double rate) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", rate);  // round-trips exactly
  return text;
}

}  // namespace

void put_lane_policy(const LanePolicy& policy,
                     std::vector<std::pair<std::string, std::string>>& settings) {
  if (policy.max_per_second > 0) settings.emplace_back(kRate, format_rate(policy.max_per_second));
  if (policy.batch_max > 1) {
    settings.emplace_back(kBatchMax, std::to_string(policy.batch_max));
    settings.emplace_back(kBatchWait, std::to_string(policy.batch_wait.count()));
  }
}

LanePolicy lane_policy(const Request& request) {
  LanePolicy policy;
  if (const std::string* v = find_setting(request, kRate)) {
    char* end = nullptr;
    const double rate = std::strtod(v->c_str(), &end);
    if (end != v->c_str() && std::isfinite(rate) && rate > 0) {
      policy.max_per_second = std::min(rate, kMaxRate);
    }
  }
  if (const std::string* v = find_setting(request, kBatchMax)) {
    size_t n = 1;
    std::from_chars(v->data(), v->data() + v->size(), n);
    policy.batch_max = std::clamp<size_t>(n, 1, kMaxBatch);
  }
  if (const std::string* v = find_setting(request, kBatchWait)) {
    int64_t ms = policy.batch_wait.count();
    std::from_chars(v->data(), v->data() + v->size(), ms);
    policy.batch_wait = std::chrono::milliseconds(std::max<int64_t>(0, ms));
  }
  return policy;
}

}  // namespace folderhook::delivery
