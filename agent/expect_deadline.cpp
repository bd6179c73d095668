#include "agent/expect_deadline.h"

#include <cctype>
#include <chrono>
#include <cstdio>

namespace folderhook::agent {
namespace {

// Days since 1970-01-01 (a Thursday) -> 0 = Monday ... 6 = Sunday.
int weekday_of(int64_t day) {
  return static_cast<int>(((day % 7) + 7 + 3) % 7);
}

bool on_day(const DeadlineSchedule& s, int64_t day) {
  return (s.days >> weekday_of(day)) & 1;
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

std::optional<int32_t> parse_time_of_day(std::string_view t) {
  auto two = [&](size_t at) -> int {
    if (at + 2 > t.size() || !std::isdigit(static_cast<unsigned char>(t[at])) ||
        !std::isdigit(static_cast<unsigned char>(t[at + 1]))) {
      return -1;
    }
    return (t[at] - '0') * 10 + (t[at + 1] - '0');
  };
  if (t.size() != 5 && t.size() != 8) return std::nullopt;
  const int h = two(0), m = two(3), s = t.size() == 8 ? two(6) : 0;
  if (t[2] != ':' || (t.size() == 8 && t[5] != ':')) return std::nullopt;
  if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) return std::nullopt;
  return h * 3600 + m * 60 + s;
}

std::optional<int> parse_weekday(std::string_view text) {
  static constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 7; ++i) {
    if (lower == kDays[i]) return i;
  }
  return std::nullopt;
}

std::string format_time_of_day(int32_t seconds) {
  char text[16];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60,
                seconds % 60);
  return text;
}

int64_t deadline_on(const DeadlineSchedule& schedule, const TimeZone& zone, int64_t local_day) {
  return zone.to_utc(local_day * 86400 + schedule.time_of_day);
}

// A week and a day either side covers every weekday set (days is never empty once parsed;
// with no day at all these return the bound they reached, far from `at`).
int64_t next_deadline(const DeadlineSchedule& schedule, const TimeZone& zone, int64_t after_s) {
  const int64_t today = floor_div(after_s + zone.offset_at(after_s), 86400);
  for (int64_t day = today - 1; day <= today + 8; ++day) {
    if (!on_day(schedule, day)) continue;
    const int64_t d = deadline_on(schedule, zone, day);
    if (d > after_s) return d;
  }
  return deadline_on(schedule, zone, today + 8);
}

int64_t previous_deadline(const DeadlineSchedule& schedule, const TimeZone& zone, int64_t at_s) {
  const int64_t today = floor_div(at_s + zone.offset_at(at_s), 86400);
  for (int64_t day = today + 1; day >= today - 8; --day) {
    if (!on_day(schedule, day)) continue;
    const int64_t d = deadline_on(schedule, zone, day);
    if (d <= at_s) return d;
  }
  return deadline_on(schedule, zone, today - 8);
}

}  // namespace folderhook::agent
