#include "agent/duration.h"

#include <doctest/doctest.h>

using folderhook::agent::format_duration;
using namespace std::chrono_literals;

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
