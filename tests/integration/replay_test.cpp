// Replaying dead letters after the rules were fixed, and listing them: the real binary, a
// receiver that refused every attempt and a second one the fixed rules point at.
#include <doctest/doctest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using nlohmann::json;

namespace {

// The receiver's URL with a password in it, which no listing may show.
std::string with_password(const Receiver& receiver) {
  std::string url = receiver.url();
  url.insert(url.find("//") + 2, "ops:hunter2@");
  return url;
}

// An agent whose first receiver answers 500 to everything, after `doomed.csv`'s create used its
// one retry and became a dead letter. Returns the webhook-id it was sent with.
std::string make_dead_letter(RunningAgent& r) {
  r.receiver.set_status(500);
  std::string rules = rules_template("retry = [\"10ms\"]\n");
  rules.replace(rules.find("{URL}"), 5, with_password(r.receiver));
  r.write_rules(rules);
  r.start();
  write_file(r.in + "/doomed.csv", "x");
  const std::string id = r.nth(2).header("webhook-id");  // the first attempt and the retry
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"dead\""));
  return id;
}

// The rules file with the folder's URL changed to `url` (the fix an operator makes).
void point_rules_at(RunningAgent& r, const std::string& url) {
  std::string rules = rules_template("retry = [\"10ms\"]\n");
  rules.replace(rules.find("{URL}"), 5, url);
  r.write_rules(rules);
}

std::string rules_file(const RunningAgent& r) { return r.dir / "rules.toml"; }

}  // namespace

TEST_CASE("replay sends a dead letter to the URL the fixed rules give, with its webhook-id") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string id = make_dead_letter(r);
  Receiver fixed;
  point_rules_at(r, fixed.url());

  std::string out;
  REQUIRE(run_folderhook({"replay", "--config", rules_file(r)}, out) == 0);
  CHECK(out == "1 dead letter(s) back in the outbox\n");
  REQUIRE(fixed.wait_for(1));
  const Webhook replayed = fixed.received()[0];
  CHECK(replayed.header("webhook-id") == id);
  CHECK(replayed.param("action") == "create");
  CHECK(replayed.param("path") == r.in + "/doomed.csv");
  REQUIRE(wait_until([&] {
    std::string listing;
    return run_folderhook({"dead-letters", "--config", rules_file(r), "--json"}, listing) == 0 &&
           listing.empty();
  }));
  CHECK(r.receiver.count() == 2);
}

TEST_CASE("replay --stored sends a dead letter to the URL it died on") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string id = make_dead_letter(r);
  Receiver fixed;
  point_rules_at(r, fixed.url());
  r.receiver.set_status(200);

  std::string out;
  REQUIRE(run_folderhook({"replay", "--config", rules_file(r), "--stored"}, out) == 0);
  CHECK(out == "1 dead letter(s) back in the outbox with their stored URLs\n");
  const Webhook replayed = r.nth(3);
  CHECK(replayed.header("webhook-id") == id);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  CHECK(fixed.count() == 0);
}

TEST_CASE("replay keeps the stored URL of a folder no longer in the rules, and says so") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string id = make_dead_letter(r);
  Receiver other;
  shell("mkdir " + r.dir / "elsewhere");
  std::string rules = rules_template("retry = [\"10ms\"]\n");
  rules.replace(rules.find("{IN}"), 4, r.dir / "elsewhere");
  rules.replace(rules.find("{URL}"), 5, other.url());
  r.write_rules(rules);
  r.receiver.set_status(200);

  std::string out;
  REQUIRE(run_folderhook({"replay", "--config", rules_file(r)}, out) == 0);
  CHECK(out.find("kept the stored URLs, method, headers and secret of " + id) != std::string::npos);
  CHECK(out.find("its folder " + r.in + " is not") != std::string::npos);
  CHECK(out.find("1 dead letter(s) back in the outbox\n") != std::string::npos);
  CHECK(r.nth(3).header("webhook-id") == id);
  CHECK(other.count() == 0);
}

TEST_CASE("replay --id of an id that is not a dead letter exits 1 and says so") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string id = make_dead_letter(r);
  std::string out;
  CHECK(run_folderhook({"replay", "--config", rules_file(r), "--id", "msg_nope"}, out) == 1);
  CHECK(out.find("no dead letter with id 'msg_nope'") != std::string::npos);
  // The real one is still there, and replays by its id.
  r.receiver.set_status(200);
  CHECK(run_folderhook({"replay", "--config", rules_file(r), "--id", id}, out) == 0);
  CHECK(r.nth(3).header("webhook-id") == id);
}

TEST_CASE("dead-letters lists id, action, path, masked URL, last status and when it died") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string id = make_dead_letter(r);
  const std::string masked_host = "127.0.0.1:" + std::to_string(r.receiver.port()) + "/hook";

  std::string out;
  REQUIRE(run_folderhook({"dead-letters", "--config", rules_file(r), "--json"}, out) == 0);
  CHECK(out.find("hunter2") == std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  const json line = json::parse(out);
  CHECK(line["id"] == id);
  CHECK(line["action"] == "create");
  CHECK(line["path"] == r.in + "/doomed.csv");
  CHECK(line["url"].get<std::string>().find(masked_host) != std::string::npos);
  CHECK(line["attempts"] == 2);
  CHECK(line["last_status"] == 500);
  CHECK(line["last_error"].is_string());
  CHECK(line["died_at"].get<std::string>().size() >= 20);  // ISO 8601 UTC

  REQUIRE(run_folderhook({"dead-letters", "--config", rules_file(r)}, out) == 0);
  CHECK(out.find("hunter2") == std::string::npos);
  CHECK(out.rfind(id + "  " + line["died_at"].get<std::string>() + "  create  " + r.in +
                      "/doomed.csv\n",
                  0) == 0);
  CHECK(out.find(masked_host) != std::string::npos);
  CHECK(out.find("last status 500") != std::string::npos);
  CHECK(out.find("1 dead letter(s)\n") != std::string::npos);
}
