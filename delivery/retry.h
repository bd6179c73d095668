// The retry arithmetic: pure functions, no clock and no randomness of their own (the caller
// passes "now" and a uniform random number), so that three days of schedule are unit-tested
// in microseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::delivery {

using Millis = std::chrono::milliseconds;

// The default schedule, written only in retry.cpp: about nine retries over three days (issue 4).
// DispatcherOptions::retry and the agent's [delivery] retry start from it.
const std::vector<Millis>& default_retry_schedule();

// A Retry-After longer than this is capped: a receiver cannot park a delivery for days.
constexpr Millis kMaxRetryAfter = std::chrono::hours(1);

// base scaled by a factor in [0.8, 1.2): unit_random is uniform in [0, 1).
Millis jittered(Millis base, double unit_random);

// The wait after the failed attempt number `failed_attempts` (1-based), or nullopt when the
// schedule is used up and the delivery is dead. A Retry-After (already parsed, 429/503 only)
// can lengthen the jittered wait, never shorten it, up to kMaxRetryAfter.
std::optional<Millis> retry_delay(const std::vector<Millis>& schedule, int failed_attempts,
                                  double unit_random,
                                  std::optional<Millis> retry_after = std::nullopt);

// Retry-After as delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"),
// relative to now_unix_ms. A date in the past gives 0. Garbage gives nullopt.
std::optional<Millis> parse_retry_after(std::string_view value, int64_t now_unix_ms);

// "200ms", "5s", "30m", "2h", "3d" (a non-negative integer and a unit). Sets error on failure.
std::optional<Millis> parse_duration(std::string_view text, std::string& error);

// Unix milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), for next_at in logs and status.
std::string format_iso_utc(int64_t unix_ms);
// Its inverse, to the second: "2026-12-03T04:05:06" with "Z", "+00:00" or nothing after it
// (UTC); nullopt for anything else.
std::optional<int64_t> parse_iso_utc(const std::string& text);

}  // namespace folderhook::delivery
