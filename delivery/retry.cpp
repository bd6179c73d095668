#include "delivery/retry.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace folderhook::delivery {

using namespace std::chrono_literals;

const std::vector<Millis>& default_retry_schedule() {
  static const std::vector<Millis> kSchedule = {1min, 5min, 30min, 2h, 5h, 10h, 14h, 20h, 20h};
  return kSchedule;
}

Millis jittered(Millis base, double unit_random) {
  const double r = std::clamp(unit_random, 0.0, 1.0);
  return Millis(static_cast<int64_t>(static_cast<double>(base.count()) * (0.8 + 0.4 * r)));
}

std::optional<Millis> retry_delay(const std::vector<Millis>& schedule, int failed_attempts,
                                  double unit_random, std::optional<Millis> retry_after) {
  if (failed_attempts < 1 || static_cast<size_t>(failed_attempts) > schedule.size()) {
    return std::nullopt;
  }
  Millis wait = jittered(schedule[static_cast<size_t>(failed_attempts - 1)], unit_random);
  if (retry_after) wait = std::max(wait, std::min(*retry_after, kMaxRetryAfter));
  return wait;
}

std::optional<Millis> parse_retry_after(std::string_view value, int64_t now_unix_ms) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](unsigned char c) { return std::isdigit(c) != 0; })) {
    if (value.size() > 9) return kMaxRetryAfter;  // absurd, capped rather than overflowing
    int64_t seconds = 0;
    for (const char c : value) seconds = seconds * 10 + (c - '0');
    return Millis(seconds * 1000);
  }
  // IMF-fixdate, the only date form RFC 9110 requires senders to use.
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const int64_t at_ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  return Millis(std::max<int64_t>(0, at_ms - now_unix_ms));
}

std::optional<Millis> parse_duration(std::string_view text, std::string& error) {
  constexpr int64_t kYearMs = int64_t{365} * 86'400'000;  // beyond that is a typo
  size_t digits = 0;
  int64_t n = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
    if (n > kYearMs) {
      error = "duration '" + std::string(text) + "' is longer than a year";
      return std::nullopt;
    }
    n = n * 10 + (text[digits] - '0');
    ++digits;
  }
  const std::string_view unit = text.substr(digits);
  if (digits == 0 || unit.empty()) {
    error = "duration '" + std::string(text) +
            "' must be a whole number with a unit: ms, s, m, h or d (e.g. \"30s\")";
    return std::nullopt;
  }
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  if (scale == 0) {
    error = "duration '" + std::string(text) + "' has an unknown unit '" + std::string(unit) +
            "' (expected ms, s, m, h or d)";
    return std::nullopt;
  }
  if (n > kYearMs / scale) {
    error = "duration '" + std::string(text) + "' is longer than a year";
    return std::nullopt;
  }
  return Millis(n * scale);
}

std::optional<int64_t> parse_iso_utc(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  const std::string zone(rest);
  if (zone != "Z" && zone != "+00:00" && !zone.empty()) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string format_iso_utc(int64_t unix_ms) {
  const auto secs = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

}  // namespace folderhook::delivery
