#include "delivery/retry.h"

#include <doctest/doctest.h>

#include "delivery/dispatcher.h"

using namespace folderhook::delivery;
using namespace std::chrono_literals;

TEST_CASE("jitter stays within plus or minus 20 percent") {
  CHECK(jittered(1000ms, 0.0) == 800ms);
  CHECK(jittered(1000ms, 0.5) == 1000ms);
  CHECK(jittered(1000ms, 0.999999) >= 1199ms);
  CHECK(jittered(1000ms, 0.999999) < 1200ms);
  for (double r = 0.0; r < 1.0; r += 0.01) {
    const auto j = jittered(5min, r);
    CHECK(j >= 4min);
    CHECK(j < 6min);
  }
}

TEST_CASE("the schedule gives one wait per retry, then nothing") {
  const std::vector<Millis> schedule = {200ms, 400ms};
  CHECK(retry_delay(schedule, 1, 0.5) == 200ms);
  CHECK(retry_delay(schedule, 2, 0.5) == 400ms);
  CHECK_FALSE(retry_delay(schedule, 3, 0.5));
  CHECK_FALSE(retry_delay(schedule, 0, 0.5));
  CHECK_FALSE(retry_delay({}, 1, 0.5));
}

TEST_CASE("Retry-After lengthens a wait, never shortens it, and is capped") {
  const std::vector<Millis> schedule = {200ms, 400ms};
  CHECK(retry_delay(schedule, 1, 0.5, 1000ms) == 1000ms);
  CHECK(retry_delay(schedule, 1, 0.5, 50ms) == 200ms);
  CHECK(retry_delay(schedule, 1, 0.5, std::chrono::hours(48)) == kMaxRetryAfter);
  CHECK_FALSE(retry_delay(schedule, 3, 0.5, 1000ms));  // the schedule still ends
}

TEST_CASE("the default schedule spends about three days, jitter included") {
  // A fake clock: each failed attempt happens at `now`, the next one at now + wait.
  for (const double r : {0.0, 0.5, 0.999999}) {
    int64_t now = 0;
    int attempts = 1;
    while (const auto wait = retry_delay(default_retry_schedule(), attempts, r)) {
      now += wait->count();
      ++attempts;
    }
    CHECK(attempts == 10);  // the first attempt and nine retries
    const int64_t nominal = 71 * 3'600'000LL + 36 * 60'000LL;  // 71h36m
    CHECK(now >= static_cast<int64_t>(nominal * 0.8));
    CHECK(now <= static_cast<int64_t>(nominal * 1.2));
    if (r == 0.5) CHECK(now == nominal);
  }
  // The slowest draw dies just under 86 hours after the first attempt; the fastest after 57h.
  int64_t slowest = 0;
  for (int a = 1; a <= 9; ++a) slowest += retry_delay(default_retry_schedule(), a, 0.999999)->count();
  CHECK(slowest < 86 * 3'600'000LL);
  CHECK(slowest > 85 * 3'600'000LL);
}

TEST_CASE("Retry-After accepts seconds and an HTTP date") {
  const int64_t now = 1445412480000;  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_retry_after("120", now) == 120'000ms);
  CHECK(parse_retry_after(" 0 ", now) == 0ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30'000ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0ms);
  CHECK(parse_retry_after("99999999999", now) == kMaxRetryAfter);
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("1.5", now));
}

TEST_CASE("durations carry a unit") {
  std::string error;
  CHECK(parse_duration("200ms", error) == 200ms);
  CHECK(parse_duration("5s", error) == 5s);
  CHECK(parse_duration("30m", error) == 30min);
  CHECK(parse_duration("2h", error) == 2h);
  CHECK(parse_duration("3d", error) == 72h);
  CHECK_FALSE(parse_duration("10", error));
  CHECK(error.find("unit") != std::string::npos);
  CHECK_FALSE(parse_duration("1w", error));
  CHECK(error.find("unknown unit 'w'") != std::string::npos);
  CHECK_FALSE(parse_duration("ms", error));
  CHECK_FALSE(parse_duration("-1s", error));
}

TEST_CASE("durations without a unit, with a sign, spaces or an unknown unit are refused") {
  for (const char* bad : {"", "10", "s", "-1s", "1.5s", "10 s", "10sec", "1w", " 1s", "1s "}) {
    CAPTURE(bad);
    std::string error;
    CHECK_FALSE(parse_duration(bad, error).has_value());
    CHECK(error != "");
  }
  std::string error;
  CHECK(parse_duration("0s", error) == 0ms);
}

TEST_CASE("a duration longer than a year is refused rather than overflowing") {
  std::string error;
  CHECK_FALSE(parse_duration("99999999999999999999d", error).has_value());
  CHECK(error.find("longer than a year") != std::string::npos);
  CHECK_FALSE(parse_duration("366d", error).has_value());
  CHECK_FALSE(parse_duration("8761h", error).has_value());
  CHECK(parse_duration("365d", error) == 365 * 24h);
}

TEST_CASE("parse_iso_utc reads what format_iso_utc writes, to the second, in UTC only") {
  CHECK(parse_iso_utc("2015-10-21T07:28:00Z") == 1445412480000);
  CHECK(parse_iso_utc("2015-10-21T07:28:00+00:00") == 1445412480000);
  CHECK(parse_iso_utc("2015-10-21T07:28:00") == 1445412480000);
  CHECK_FALSE(parse_iso_utc("2015-10-21T07:28:00+02:00"));
  CHECK_FALSE(parse_iso_utc("yesterday"));
}

TEST_CASE("next_at is ISO UTC with milliseconds") {
  CHECK(format_iso_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_iso_utc(1445412480123) == "2015-10-21T07:28:00.123Z");
}

TEST_CASE("a dispatcher's options start with the default schedule, written once") {
  // No other default: a DispatcherOptions that no one filled in retries as the agent does.
  CHECK(DispatcherOptions{}.retry == default_retry_schedule());
  CHECK(default_retry_schedule().size() == 9);
}
