// [[folder.expect]] in the rules file (agent/config_expect.cpp): what it reads, and each
// mistake named at its FILE:LINE:COL.
#include <doctest/doctest.h>

#include "agent/config.h"
#include "tests/agent/config_errors.h"

using namespace folderhook::agent;

namespace {

std::vector<std::string> expect_errors(const std::string& expect_table) {
  const std::string text = "[[folder]]\npath = \"/srv/in\"\nurls = [\"http://127.0.0.1:1/h\"]\n"
                           "[[folder.expect]]\n" + expect_table;
  return folderhook::agent::testing::config_errors(text);
}

}  // namespace

TEST_CASE("an expectation reads include, by, days, timezone, alert_urls and a derived name") {
  std::vector<ConfigError> errors;
  const auto config = parse_config(R"(
[[folder]]
path = "/srv/in"
urls = ["http://127.0.0.1:1/h"]
[[folder.expect]]
include = ["*.csv", "**/*.CSV"]
by = "06:30:15"
days = ["mon", "Fri"]
timezone = "Europe/Paris"
alert_urls = "http://127.0.0.1:2/alert"
[[folder.expect]]
name = "nightly"
by = "23:00"
alert_urls = ["http://127.0.0.1:2/alert"]
)", "rules.toml", "/base", errors);
  REQUIRE_MESSAGE(config, (errors.empty() ? "" : errors[0].to_string()));
  const auto& expects = config->folders[0].expects;
  REQUIRE(expects.size() == 2);
  CHECK(expects[0].name == "*.csv,**/*.CSV by 06:30:15");
  CHECK(expects[0].time_of_day == 6 * 3600 + 30 * 60 + 15);
  CHECK(expects[0].days == 0b0010001);
  CHECK(expects[0].timezone == "Europe/Paris");
  CHECK(expects[0].alert_urls == std::vector<std::string>{"http://127.0.0.1:2/alert"});
  CHECK(expects[1].name == "nightly");
  CHECK(expects[1].days == 0x7f);
  CHECK(expects[1].timezone == "UTC");
  CHECK(expects[1].include.empty());
}

TEST_CASE("check names each mistake of an expectation at its line and column") {
  CHECK(expect_errors("by = \"25:00\"\nalert_urls = [\"http://h/a\"]\n") ==
        std::vector<std::string>{"rules.toml:5:6: folder.expect.by must be a time of day \"HH:MM\" "
                                 "or \"HH:MM:SS\" from 00:00 to 23:59:59 (got '25:00')"});
  CHECK(expect_errors("by = \"06:00\"\ndays = [\"mon\", \"funday\"]\nalert_urls = [\"http://h/a\"]\n") ==
        std::vector<std::string>{"rules.toml:6:8: folder.expect.days: unknown day 'funday' "
                                 "(mon, tue, wed, thu, fri, sat, sun)"});
  const auto zone = expect_errors("by = \"06:00\"\ntimezone = \"Mars/Olympus\"\nalert_urls = [\"http://h/a\"]\n");
  REQUIRE(zone.size() == 1);
  CHECK(zone[0].rfind("rules.toml:6:12: folder.expect.timezone: unknown time zone 'Mars/Olympus'", 0) == 0);
  CHECK(expect_errors("by = \"06:00\"\n") ==
        std::vector<std::string>{"rules.toml:4:1: [[folder.expect]] needs alert_urls, where to send "
                                 "the alert when no file arrived by its deadline"});
  CHECK(expect_errors("by = \"06:00\"\nalert_urls = []\n") ==
        std::vector<std::string>{"rules.toml:6:14: folder.expect.alert_urls must hold at least one URL"});
  const auto no_by = expect_errors("alert_urls = [\"http://h/a\"]\n");
  REQUIRE(no_by.size() == 1);
  CHECK(no_by[0].rfind("rules.toml:4:1: [[folder.expect]] needs by", 0) == 0);
  const auto unknown = expect_errors("by = \"06:00\"\nalert_urls = [\"http://h/a\"]\ndeadline = 1\n");
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].rfind("rules.toml:7:1:", 0) == 0);
}
