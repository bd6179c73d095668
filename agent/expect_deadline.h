// The deadlines of an expectation ([[folder.expect]]): a time of day (`by`) on some days of
// the week (`days`) in a time zone. Pure: Unix seconds in, Unix seconds out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/expect_zone.h"

namespace folderhook::agent {

struct DeadlineSchedule {
  int32_t time_of_day = 0;  // local seconds after midnight
  uint8_t days = 0x7f;      // bit 0 = Monday ... bit 6 = Sunday
};

// "HH:MM" or "HH:MM:SS", 00:00 to 23:59:59: seconds after midnight.
std::optional<int32_t> parse_time_of_day(std::string_view text);
// "mon" ... "sun" (any case): 0 (Monday) to 6 (Sunday).
std::optional<int> parse_weekday(std::string_view text);
// "HH:MM:SS".
std::string format_time_of_day(int32_t seconds);

// The deadline on the local date `local_day` (days since 1970-01-01), whether or not that
// date's weekday is in `days`. A time that the zone skips that day (a spring-forward) is as
// far after the jump; a time it repeats (autumn), its first occurrence.
int64_t deadline_on(const DeadlineSchedule& schedule, const TimeZone& zone, int64_t local_day);
// The first deadline strictly after `after_s`.
int64_t next_deadline(const DeadlineSchedule& schedule, const TimeZone& zone, int64_t after_s);
// The last deadline at or before `at_s`.
int64_t previous_deadline(const DeadlineSchedule& schedule, const TimeZone& zone, int64_t at_s);

}  // namespace folderhook::agent
