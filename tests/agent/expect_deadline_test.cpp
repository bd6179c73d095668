// agent/expect_zone.h and agent/expect_deadline.h: the system's TZif files read by our own
// reader, their footer rules, and the deadlines of `by` + `days` + `timezone`, DST days too.
#include <doctest/doctest.h>

#include <chrono>

#include "agent/expect_deadline.h"
#include "agent/expect_zone.h"

using namespace folderhook::agent;

namespace {

// Unix seconds of a UTC date and time.
int64_t utc(int y, unsigned m, unsigned d, int hh, int mm = 0, int ss = 0) {
  const std::chrono::sys_days date =
      std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d};
  return date.time_since_epoch().count() * 86400LL + hh * 3600 + mm * 60 + ss;
}

TimeZone zone(const char* name) {
  std::string error;
  auto z = TimeZone::load(name, error);
  REQUIRE_MESSAGE(z, error);
  return *z;
}

}  // namespace

TEST_CASE("a time of day is HH:MM or HH:MM:SS within the day") {
  CHECK(parse_time_of_day("06:00") == 6 * 3600);
  CHECK(parse_time_of_day("23:59:59") == 86399);
  CHECK(parse_time_of_day("00:00:07") == 7);
  for (const char* bad : {"24:00", "6:00", "06:60", "06:00:60", "06-00", "", "06:00:", "aa:bb"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_time_of_day(bad));
  }
  CHECK(format_time_of_day(6 * 3600 + 5) == "06:00:05");
}

TEST_CASE("weekdays are mon..sun in any case") {
  CHECK(parse_weekday("mon") == 0);
  CHECK(parse_weekday("SUN") == 6);
  CHECK_FALSE(parse_weekday("monday"));
  CHECK_FALSE(parse_weekday("xyz"));
}

TEST_CASE("a time zone name that could leave the zoneinfo directory or does not exist is refused") {
  std::string error;
  CHECK_FALSE(TimeZone::load("../etc/passwd", error));
  CHECK(error.find("not a time zone name") != std::string::npos);
  CHECK_FALSE(TimeZone::load("/etc/localtime", error));
  CHECK_FALSE(TimeZone::load("Europe/Atlantis", error));
  CHECK(error.find("unknown time zone 'Europe/Atlantis'") != std::string::npos);
  CHECK_FALSE(TimeZone::parse("x", "not a zone file at all, but long enough to read a header", error));
  CHECK(error == "not a TZif file");
}

TEST_CASE("Europe/Paris offsets in winter, summer, and past the file's last transition") {
  const TimeZone paris = zone("Europe/Paris");
  CHECK(paris.offset_at(utc(2026, 1, 15, 12)) == 3600);
  CHECK(paris.offset_at(utc(2026, 7, 15, 12)) == 7200);
  // The change itself: 01:00 UTC on the last Sunday of March and of October.
  CHECK(paris.offset_at(utc(2026, 3, 29, 0, 59, 59)) == 3600);
  CHECK(paris.offset_at(utc(2026, 3, 29, 1)) == 7200);
  CHECK(paris.offset_at(utc(2026, 10, 25, 0, 59, 59)) == 7200);
  CHECK(paris.offset_at(utc(2026, 10, 25, 1)) == 3600);
  // Beyond 2037 only the footer's rule speaks.
  CHECK(paris.offset_at(utc(2060, 7, 1, 0)) == 7200);
  CHECK(paris.offset_at(utc(2060, 12, 1, 0)) == 3600);
  CHECK(TimeZone::utc().offset_at(utc(2026, 7, 1, 0)) == 0);
}

TEST_CASE("a footer rule gives the offsets the file's transitions give, north and south") {
  for (const char* name : {"Europe/Paris", "America/New_York", "Australia/Sydney"}) {
    CAPTURE(name);
    const TimeZone z = zone(name);
    const char* rule_text = std::string_view(name) == "Europe/Paris" ? "CET-1CEST,M3.5.0,M10.5.0/3"
                            : std::string_view(name) == "America/New_York"
                                ? "EST5EDT,M3.2.0,M11.1.0"
                                : "AEST-10AEDT,M10.1.0,M4.1.0/3";
    std::string error;
    const auto rule = parse_zone_rule(rule_text, error);
    REQUIRE_MESSAGE(rule, error);
    int mismatches = 0;
    for (int64_t t = utc(2026, 1, 1, 0); t < utc(2036, 1, 1, 0); t += 3 * 3600 + 17) {
      if (rule_offset_at(*rule, t) != z.offset_at(t)) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
  std::string error;
  CHECK_FALSE(parse_zone_rule("CET-1CEST,M13.5.0,M10.5.0", error));
  CHECK_FALSE(parse_zone_rule("1", error));
  const auto fixed = parse_zone_rule("<+0530>-5:30", error);
  REQUIRE(fixed);
  CHECK(rule_offset_at(*fixed, utc(2030, 1, 1, 0)) == 5 * 3600 + 1800);
}

TEST_CASE("deadlines on DST days: a skipped time is as far after the jump, a repeated one first") {
  const TimeZone paris = zone("Europe/Paris");
  const int64_t spring = utc(2026, 3, 29, 0) / 86400;  // local days count like UTC ones
  const int64_t autumn = utc(2026, 10, 25, 0) / 86400;
  const DeadlineSchedule six{6 * 3600, 0x7f};
  const DeadlineSchedule two_thirty{2 * 3600 + 1800, 0x7f};
  CHECK(deadline_on(six, paris, spring) == utc(2026, 3, 29, 4));
  CHECK(deadline_on(two_thirty, paris, spring) == utc(2026, 3, 29, 1, 30));  // 03:30 CEST
  CHECK(deadline_on(six, paris, autumn) == utc(2026, 10, 25, 5));
  CHECK(deadline_on(two_thirty, paris, autumn) == utc(2026, 10, 25, 0, 30));  // first 02:30
  // Around the spring change: a day between two deadlines is 23 hours long.
  CHECK(next_deadline(six, paris, utc(2026, 3, 28, 5)) - utc(2026, 3, 28, 5) == 23 * 3600);
  CHECK(previous_deadline(six, paris, utc(2026, 10, 25, 5)) == utc(2026, 10, 25, 5));
}

TEST_CASE("next and previous deadlines follow the days of the week") {
  const TimeZone z = TimeZone::utc();
  const DeadlineSchedule mon_wed{6 * 3600, 0b0000101};
  // 2026-12-01 is a Tuesday.
  CHECK(next_deadline(mon_wed, z, utc(2026, 12, 1, 10)) == utc(2026, 12, 2, 6));
  CHECK(previous_deadline(mon_wed, z, utc(2026, 12, 1, 10)) == utc(2026, 11, 30, 6));
  // At a deadline: it is the previous one, and the next is the one after.
  CHECK(previous_deadline(mon_wed, z, utc(2026, 12, 2, 6)) == utc(2026, 12, 2, 6));
  CHECK(next_deadline(mon_wed, z, utc(2026, 12, 2, 6)) == utc(2026, 12, 7, 6));
  const DeadlineSchedule sunday{23 * 3600 + 59 * 60 + 59, 0b1000000};
  CHECK(next_deadline(sunday, z, utc(2026, 12, 7, 0)) == utc(2026, 12, 13, 23, 59, 59));
  // New York: 06:00 local is 11:00 UTC in winter.
  const TimeZone ny = zone("America/New_York");
  CHECK(next_deadline({6 * 3600, 0x7f}, ny, utc(2026, 12, 1, 10)) == utc(2026, 12, 1, 11));
  CHECK(previous_deadline({6 * 3600, 0x7f}, ny, utc(2026, 12, 1, 10)) == utc(2026, 11, 30, 11));
}
