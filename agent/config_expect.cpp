// [[folder.expect]] of the rules file's parser (config_parser.h): files that must arrive in the
// folder by a time of day. Everything the agent needs to judge it is checked here, with the
// place in the file: `by`, each of `days`, `timezone` (read from the tz database, so that an
// unknown zone is refused by `check` rather than found at the first deadline) and alert_urls.
#include <algorithm>

#include "agent/config_parser.h"
#include "agent/expect_deadline.h"
#include "agent/expect_zone.h"
#include "delivery/sink_set.h"
#include "delivery/url.h"

namespace folderhook::agent::detail {

void Parser::parse_expect(const toml::table& t, FolderRule& rule) {
  check_keys(t, "[[folder.expect]]", kExpectKeys);
  Expectation e;
  e.line = static_cast<int>(t.source().begin.line);
  e.column = static_cast<int>(t.source().begin.column);
  e.include = string_list(t, "include", "folder.expect");
  for (const std::string& glob : e.include) {
    if (std::count(glob.begin(), glob.end(), '[') > std::count(glob.begin(), glob.end(), ']')) {
      error(t.get("include"), "glob '" + glob + "' has a '[' that is never closed");
    }
  }
  if (auto v = string(t, "by", "folder.expect")) {
    if (auto seconds = parse_time_of_day(*v)) {
      e.by = *v;
      e.time_of_day = *seconds;
    } else {
      error(t.get("by"), "folder.expect.by must be a time of day \"HH:MM\" or \"HH:MM:SS\" "
                         "from 00:00 to 23:59:59 (got '" + *v + "')");
    }
  } else if (!t.get("by")) {
    error(&t, "[[folder.expect]] needs by, the time of day by which a file must have arrived, "
              "such as \"06:00\"");
  }
  if (const toml::node* node = t.get("days")) {
    e.days = 0;
    const auto names = string_list(t, "days", "folder.expect");
    for (const std::string& name : names) {
      if (auto day = parse_weekday(name)) {
        e.days = static_cast<uint8_t>(e.days | (1u << *day));
      } else {
        error(node, "folder.expect.days: unknown day '" + name +
                        "' (mon, tue, wed, thu, fri, sat, sun)");
      }
    }
    if (names.empty() && node->is_array()) {
      error(node, "folder.expect.days must name at least one day (leave it out for every day)");
    }
  }
  if (auto v = string(t, "timezone", "folder.expect")) {
    std::string why;
    if (TimeZone::load(*v, why))
      e.timezone = *v;
    else
      error(t.get("timezone"), "folder.expect.timezone: " + why);
  }
  e.alert_urls = string_list(t, "alert_urls", "folder.expect", /*comma_string_too=*/true);
  if (!t.get("alert_urls")) {
    error(&t, "[[folder.expect]] needs alert_urls, where to send the alert when no file "
              "arrived by its deadline");
  } else if (e.alert_urls.empty()) {
    error(t.get("alert_urls"), "folder.expect.alert_urls must hold at least one URL");
  }
  for (const std::string& url : e.alert_urls) {
    std::string why;
    if (!delivery::valid_url(url, why)) {
      error(t.get("alert_urls"), "folder.expect.alert_urls: '" + delivery::mask_url(url) +
                                     "' is not a usable URL: " + why);
    }
  }
  if (auto v = string(t, "name", "folder.expect"); v && !v->empty()) {
    e.name = *v;
  } else {
    std::string globs;
    for (const std::string& g : e.include) globs += (globs.empty() ? "" : ",") + g;
    e.name = (globs.empty() ? "*" : globs) + " by " + e.by;
  }
  for (const Expectation& other : rule.expects) {
    if (other.name == e.name) {
      error(&t, "folder.expect '" + e.name + "' is listed twice in this folder (first at line " +
                    std::to_string(other.line) + "); give one a different name");
    }
  }
  rule.expects.push_back(std::move(e));
}

}  // namespace folderhook::agent::detail
