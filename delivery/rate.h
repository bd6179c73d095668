// TokenBucket: the `max_per_second` of one URL set (issue 20). Every attempt (a first attempt, a
// retry, or a whole batch, which counts as one) takes a token; tokens come back at `rate` a
// second, up to a small burst: max(1, rate / 20), i.e. 50 ms worth, so that in any second at most
// rate + burst attempts start and a sender that woke a little late does not lose its turn. A
// new bucket (a lane made at a start, a reload) holds one token, not a full burst: right after a
// start the rate is never exceeded by more than that one attempt.
//
// Pure: the caller passes the time (steady clock) and holds the lane's lock around each call.
// A rate of 0 means no limit: take() always gives what is asked.
#pragma once

#include <chrono>
#include <cstddef>

namespace folderhook::delivery {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate, Clock::time_point now);

  bool limited() const { return rate_ > 0; }
  double rate() const { return rate_; }
  double burst() const { return capacity_; }
  // Takes up to `want` whole tokens that are there at `now`; returns how many (0: none yet).
  size_t take(size_t want, Clock::time_point now);
  // A new rate from `now` on (the tokens there are kept, up to the new burst).
  void set_rate(double rate, Clock::time_point now);
  // When the next whole token is there (`now` when one is already); never earlier than `now`.
  Clock::time_point next_token(Clock::time_point now);

 private:
  void refill(Clock::time_point now);

  double rate_;
  double capacity_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace folderhook::delivery
