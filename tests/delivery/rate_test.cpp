// TokenBucket (delivery/rate.h): the pacing of max_per_second, with the time given.
#include "delivery/rate.h"

#include <doctest/doctest.h>

using folderhook::delivery::TokenBucket;
using namespace std::chrono_literals;

namespace {

const TokenBucket::Clock::time_point kStart{std::chrono::hours(1)};

// How many single tokens a caller that takes one whenever one is there gets over `span`,
// stepping the clock 1 ms at a time.
size_t taken_over(TokenBucket& bucket, std::chrono::milliseconds span) {
  size_t n = 0;
  for (auto t = kStart; t < kStart + span; t += 1ms) n += bucket.take(1, t);
  return n;
}

}  // namespace

TEST_CASE("a rate of 0 is no limit: every token asked for is given at once") {
  TokenBucket bucket(0, kStart);
  CHECK_FALSE(bucket.limited());
  CHECK(bucket.take(1'000'000, kStart) == 1'000'000);
  CHECK(bucket.next_token(kStart) == kStart);
}

TEST_CASE("a new bucket holds one token, not a burst: a start never sends more than one early") {
  TokenBucket bucket(1000, kStart);
  CHECK(bucket.take(100, kStart) == 1);
  CHECK(bucket.take(100, kStart) == 0);
}

TEST_CASE("50 a second gives 50 over a second and 1500 over 30 s, within one burst") {
  TokenBucket bucket(50, kStart);
  const size_t second = taken_over(bucket, 1000ms);
  CHECK(second >= 50);
  CHECK(second <= 51);
  TokenBucket again(50, kStart);
  const size_t thirty = taken_over(again, 30'000ms);
  CHECK(thirty >= 1500);
  CHECK(thirty <= 1501);
}

TEST_CASE("an idle bucket saves at most 50 ms of its rate, so no second holds much more") {
  TokenBucket bucket(1000, kStart);
  CHECK(bucket.burst() == doctest::Approx(50));
  // A minute idle: at most the burst is there.
  CHECK(bucket.take(10'000, kStart + 60s) == 50);
  CHECK(bucket.take(10'000, kStart + 60s) == 0);
  // A slow rate still has a burst of one.
  TokenBucket slow(2, kStart);
  CHECK(slow.burst() == doctest::Approx(1));
  CHECK(slow.take(10, kStart + 60s) == 1);
}

TEST_CASE("a fractional rate: 0.5 a second is one every 2 s") {
  TokenBucket bucket(0.5, kStart);
  CHECK(bucket.take(1, kStart) == 1);
  CHECK(bucket.take(1, kStart + 1999ms) == 0);
  CHECK(bucket.next_token(kStart + 1999ms) >= kStart + 2000ms);
  CHECK(bucket.next_token(kStart + 1999ms) <= kStart + 2001ms);
  CHECK(bucket.take(1, kStart + 2000ms) == 1);
  TokenBucket again(0.5, kStart);
  CHECK(taken_over(again, 10'000ms) == 5);  // at 0, 2, 4, 6 and 8 s
}

TEST_CASE("next_token says when a waiting sender can go, and that token is there then") {
  TokenBucket bucket(40, kStart);  // one every 25 ms
  REQUIRE(bucket.take(1, kStart) == 1);
  const auto when = bucket.next_token(kStart + 5ms);
  CHECK(when >= kStart + 25ms);
  CHECK(when <= kStart + 26ms);
  CHECK(bucket.take(1, when) == 1);
  // Time never runs backwards inside the bucket: an earlier `now` gives nothing new.
  CHECK(bucket.take(1, kStart) == 0);
}
