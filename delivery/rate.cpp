#include "delivery/rate.h"

#include <algorithm>
#include <cmath>

namespace folderhook::delivery {
namespace {

// The burst, in seconds of the rate: small enough that a second never holds much more than the
// rate, large enough that a wake-up a few ms late is caught up.
constexpr double kBurstSeconds = 0.05;

}  // namespace

TokenBucket::TokenBucket(double rate, Clock::time_point now)
    : rate_(std::isfinite(rate) && rate > 0 ? rate : 0),
      capacity_(std::max(1.0, rate_ * kBurstSeconds)),
      tokens_(1.0),
      last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(capacity_, tokens_ + seconds * rate_);
  last_ = now;
}

void TokenBucket::set_rate(double rate, Clock::time_point now) {
  refill(now);
  rate_ = std::isfinite(rate) && rate > 0 ? rate : 0;
  capacity_ = std::max(1.0, rate_ * kBurstSeconds);
  tokens_ = std::min(tokens_, capacity_);
}

size_t TokenBucket::take(size_t want, Clock::time_point now) {
  if (!limited()) return want;
  refill(now);
  const auto whole = static_cast<size_t>(std::floor(tokens_ + 1e-9));
  const size_t n = std::min(want, whole);
  tokens_ -= static_cast<double>(n);
  return n;
}

TokenBucket::Clock::time_point TokenBucket::next_token(Clock::time_point now) {
  if (!limited()) return now;
  refill(now);
  if (tokens_ + 1e-9 >= 1.0) return now;
  const double seconds = (1.0 - tokens_) / rate_;
  // Rounded up to the clock's tick, so that a wait until then finds the token.
  return now + std::chrono::ceil<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace folderhook::delivery
