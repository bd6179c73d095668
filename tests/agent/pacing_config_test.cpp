// folder.max_per_second, folder.batch_max and folder.batch_wait as `check` sees them
// (agent/config_folder.cpp: parse_pacing), and how they reach the request (agent/webhook.cpp).
#include <doctest/doctest.h>

#include "agent/config.h"
#include "agent/webhook.h"
#include "delivery/lane_policy.h"

using namespace folderhook::agent;

namespace {

// The rules file with these extra [[folder]] lines; its errors as FILE:LINE:COL lines.
std::vector<std::string> pacing_errors(const std::string& folder_lines,
                                       const std::string& urls = "\"http://127.0.0.1:8787/hook\"") {
  const std::string text = "[agent]\nstate_dir = \"/var/lib/fh\"\n\n[[folder]]\npath = \"/srv/in\"\n"
                           "urls = [" + urls + "]\n" + folder_lines;
  std::vector<ConfigError> errors;
  parse_config(text, "rules.toml", "/base", errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

std::optional<Config> pacing_config(const std::string& folder_lines) {
  std::vector<ConfigError> errors;
  auto config = parse_config(
      "[agent]\nstate_dir = \"/var/lib/fh\"\n\n[[folder]]\npath = \"/srv/in\"\n"
      "urls = [\"http://127.0.0.1:8787/hook\"]\n" + folder_lines,
      "rules.toml", "/base", errors);
  const std::string first = errors.empty() ? "" : errors.front().to_string();
  CHECK_MESSAGE(errors.empty(), first);
  return config;
}

}  // namespace

TEST_CASE("max_per_second takes whole numbers and fractions; 0 and absent are no limit") {
  auto config = pacing_config("max_per_second = 50\n");
  REQUIRE(config);
  CHECK(config->folders[0].pacing.max_per_second == 50);
  config = pacing_config("max_per_second = 0.5\n");
  REQUIRE(config);
  CHECK(config->folders[0].pacing.max_per_second == 0.5);
  config = pacing_config("");
  REQUIRE(config);
  CHECK(config->folders[0].pacing.max_per_second == 0);
  CHECK(config->folders[0].pacing.batch_max == 1);
}

TEST_CASE("a max_per_second that is not a number in range is an error at its place") {
  const auto negative = pacing_errors("max_per_second = -1\n");
  REQUIRE(negative.size() == 1);
  CHECK(negative[0].rfind("rules.toml:7:18: folder.max_per_second must be a number", 0) == 0);
  CHECK(pacing_errors("max_per_second = \"50\"\n").size() == 1);
  CHECK(pacing_errors("max_per_second = true\n").size() == 1);
  CHECK(pacing_errors("max_per_second = 2000000\n").size() == 1);
  CHECK(pacing_errors("max_per_second = nan\n").size() == 1);
}

TEST_CASE("batch_max and batch_wait with method POST give the folder's batching") {
  auto config = pacing_config("method = \"POST\"\nbatch_max = 10\nbatch_wait = \"250ms\"\n");
  REQUIRE(config);
  CHECK(config->folders[0].pacing.batch_max == 10);
  CHECK(config->folders[0].pacing.batch_wait == std::chrono::milliseconds(250));
  config = pacing_config("method = \"POST\"\nbatch_max = 10\n");
  REQUIRE(config);
  CHECK(config->folders[0].pacing.batch_wait == std::chrono::seconds(1));  // the default
}

TEST_CASE("batch_max is refused with GET, file_field, body_template, a NATS URL, or out of range") {
  const auto get = pacing_errors("batch_max = 10\n");
  REQUIRE(get.size() == 1);
  CHECK(get[0] == "rules.toml:7:13: folder.batch_max needs method = \"POST\": a batch is one "
                  "JSON array body");
  const auto nats = pacing_errors("method = \"POST\"\nbatch_max = 10\n",
                                  "\"nats://127.0.0.1:4222/files\"");
  REQUIRE(nats.size() == 1);
  CHECK(nats[0].find("rules.toml:8:13: folder.batch_max: 'nats://127.0.0.1:4222/files' is not "
                     "an http(s) URL") == 0);
  CHECK(pacing_errors("method = \"POST\"\nfile_field = \"file\"\nbatch_max = 5\n").size() == 1);
  const auto templated = pacing_errors("body_template = \"{\\\"a\\\": \\\"{{path}}\\\"}\"\nbatch_max = 5\n");
  REQUIRE(templated.size() == 1);
  CHECK(templated[0] == "rules.toml:8:13: folder.batch_max cannot go with body_template: a batch "
                        "is a JSON array of the operations' usual objects");
  CHECK(pacing_errors("method = \"POST\"\nbatch_max = 0\n").size() == 1);
  CHECK(pacing_errors("method = \"POST\"\nbatch_max = 1001\n").size() == 1);
  CHECK(pacing_errors("method = \"POST\"\nbatch_max = 2.5\n").size() == 1);
}

TEST_CASE("batch_wait is a duration from 1ms to 1h") {
  const auto zero = pacing_errors("method = \"POST\"\nbatch_max = 5\nbatch_wait = \"0s\"\n");
  REQUIRE(zero.size() == 1);
  CHECK(zero[0] == "rules.toml:9:14: folder.batch_wait must be from 1ms to 1h");
  CHECK(pacing_errors("batch_wait = \"2s\"\n").empty());  // no batching: nothing to wait for
  CHECK(pacing_errors("method = \"POST\"\nbatch_max = 5\nbatch_wait = \"2h\"\n").size() == 1);
  CHECK(pacing_errors("method = \"POST\"\nbatch_max = 5\nbatch_wait = 5\n").size() == 1);
}

TEST_CASE("a folder's pacing travels in its requests' settings") {
  auto config = pacing_config("method = \"POST\"\nmax_per_second = 20\nbatch_max = 4\n");
  REQUIRE(config);
  folderhook::watch::FileAction action;
  action.path = "/srv/in/a.txt";
  const auto request = make_request(action, config->folders[0], "");
  const auto policy = folderhook::delivery::lane_policy(request);
  CHECK(policy.max_per_second == 20);
  CHECK(policy.batch_max == 4);
}
