#include "agent/duration.h"

#include <doctest/doctest.h>

using folderhook::agent::format_duration;
using folderhook::agent::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("durations take a number and one unit: ms, s, m, h, d") {
  CHECK(parse_duration("250ms") == 250ms);
  CHECK(parse_duration("10s") == 10s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("2h") == 2h);
  CHECK(parse_duration("3d") == 72h);
  CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("durations without a unit, with a sign, spaces or an unknown unit are refused") {
  for (const char* bad : {"", "10", "s", "-1s", "1.5s", "10 s", "10sec", "1w", " 1s", "1s "}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("a duration longer than a year is refused rather than overflowing") {
  CHECK_FALSE(parse_duration("99999999999999999999d").has_value());
  CHECK_FALSE(parse_duration("366d").has_value());
  CHECK(parse_duration("365d").has_value());
}

TEST_CASE("durations print in the largest whole unit") {
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(2h) == "2h");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(0ms) == "0ms");
}

TEST_CASE("sizes take binary or decimal units") {
  using folderhook::agent::parse_size;
  CHECK(parse_size("10MiB") == 10u << 20);
  CHECK(parse_size("512B") == 512u);
  CHECK(parse_size("2KB") == 2000u);
  CHECK(parse_size("1GiB") == 1u << 30);
  CHECK_FALSE(parse_size("10").has_value());
  CHECK_FALSE(parse_size("10mb").has_value());
  CHECK_FALSE(parse_size("-1B").has_value());
  CHECK_FALSE(parse_size("99999999TB").has_value());
}
