// max_per_second and batches (issue 20) through the real binary and a real receiver: the
// receiver's own clock says how fast requests came, its bodies what each batch held.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"
#include "tests/support/verifier.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

double seconds_between(const Webhook& a, const Webhook& b) {
  return std::chrono::duration<double>(b.at - a.at).count();
}

std::string numbered(const std::string& dir, int i) {
  char name[32];
  std::snprintf(name, sizeof name, "/f%03d.txt", i);
  return dir + name;
}

// Starts the agent with its receiver refusing everything (500), then writes `files` files.
void start_refused(RunningAgent& r, int files) {
  r.receiver.set_status(500);
  r.start();
  for (int i = 0; i < files; ++i) write_file(numbered(r.in, i), "x");
}

json status_of(const RunningAgent& r) {
  std::string out;
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  return json::parse(out);
}

std::vector<std::string> member_ids(const Webhook& hook) {
  std::vector<std::string> ids;
  for (const auto& object : json::parse(hook.body)) ids.push_back(object["id"]);
  return ids;
}

}  // namespace

TEST_CASE("max_per_second = 50: 200 operations take about 4 s at the receiver, in order") {
  RunningAgent r(rules_template("", "max_per_second = 50\n"));
  for (int i = 0; i < 200; ++i) write_file(numbered(r.in, i), "x");
  REQUIRE_MESSAGE(r.receiver.wait_for(200, 30s), r.agent->output());
  const auto hooks = r.receiver.received();
  for (int i = 0; i < 200; ++i) CHECK(hooks[static_cast<size_t>(i)].param("path") == numbered(r.in, i));
  // 199 tokens after the first at 50 a second: 3.98 s at least, less a 50 ms burst.
  const double span = seconds_between(hooks.front(), hooks.back());
  CHECK(span >= 3.9);
  CHECK(span <= 5.0);  // and it keeps its rate, not much slower
  CHECK(busiest(hooks, 1000ms) <= 53);
}

TEST_CASE("retries take tokens too: first attempts and retries together stay within the rate") {
  std::string retries;
  for (int i = 0; i < 20; ++i) retries += std::string(i ? ", " : "") + "\"100ms\"";
  RunningAgent r(rules_template("retry = [" + retries + "]\n", "max_per_second = 10\n"),
                 /*start_now=*/false);
  r.receiver.set_status(500);
  r.start();
  for (int i = 0; i < 5; ++i) write_file(numbered(r.in, i), "x");
  REQUIRE_MESSAGE(r.receiver.wait_for(40, 30s), r.agent->output());
  const auto hooks = r.receiver.received();
  std::set<std::string> ids;
  for (const auto& h : hooks) ids.insert(h.header("webhook-id"));
  CHECK(ids.size() == 5);  // 40 attempts of 5 deliveries: most are retries
  // Unpaced, 5 deliveries retried every 100 ms would be ~50 attempts a second.
  CHECK(busiest(hooks, 1000ms) <= 12);
  const double rate = static_cast<double>(hooks.size() - 1) / seconds_between(hooks.front(), hooks.back());
  CHECK(rate <= 10.5);
  CHECK(rate >= 8.0);
}

TEST_CASE("batch_max = 10: 25 operations are 3 requests of 10, 10 and 5, the last after batch_wait") {
  RunningAgent r(rules_template("", "method = \"POST\"\nbatch_max = 10\nbatch_wait = \"1s\"\n"));
  for (int i = 0; i < 25; ++i) write_file(numbered(r.in, i), "x");
  REQUIRE_MESSAGE(r.receiver.wait_for(3, 20s), r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"batch\":5"));
  const auto hooks = r.receiver.received();
  REQUIRE(hooks.size() == 3);
  std::set<std::string> batch_ids;
  std::set<std::string> object_ids;
  std::vector<std::string> paths;
  for (const auto& hook : hooks) {
    CHECK(hook.header("content-type") == "application/json");
    batch_ids.insert(hook.header("webhook-id"));
    for (const auto& object : json::parse(hook.body)) {
      object_ids.insert(object["id"].get<std::string>());
      paths.push_back(object["path"]);
      CHECK(object["action"] == "create");
    }
  }
  CHECK(json::parse(hooks[0].body).size() == 10);
  CHECK(json::parse(hooks[1].body).size() == 10);
  CHECK(json::parse(hooks[2].body).size() == 5);
  CHECK(batch_ids.size() == 3);
  CHECK(object_ids.size() == 25);
  for (const auto& id : batch_ids) CHECK(object_ids.count(id) == 0);
  REQUIRE(paths.size() == 25);
  for (int i = 0; i < 25; ++i) CHECK(paths[static_cast<size_t>(i)] == numbered(r.in, i));
  // The two full batches leave at once; the last waits for its oldest member's batch_wait.
  CHECK(seconds_between(hooks[1], hooks[2]) >= 0.8);
}

TEST_CASE("a failed batch is retried whole: the same members under the same webhook-id") {
  RunningAgent r(rules_template("retry = [\"300ms\"]\n",
                                "method = \"POST\"\nbatch_max = 4\nbatch_wait = \"200ms\"\n"),
                 /*start_now=*/false);
  start_refused(r, 4);
  const Webhook failed = r.nth(1);
  r.receiver.set_status(200);
  const Webhook retried = r.nth(2);
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  CHECK(retried.header("webhook-id") == failed.header("webhook-id"));
  CHECK(member_ids(retried) == member_ids(failed));
  CHECK(member_ids(failed).size() == 4);
  CHECK(r.agent->output().find("\"outcome\":\"retry\"") != std::string::npos);
  CHECK(r.receiver.count() == 2);
}

TEST_CASE("kill -9 while a batch is at the receiver: after the restart it comes again, same id") {
  RunningAgent r(rules_template("timeout = \"30s\"\n",
                                "method = \"POST\"\nbatch_max = 3\nbatch_wait = \"200ms\"\n"),
                 /*start_now=*/false);
  r.receiver.set_delay(20s);  // the answer never comes before the kill
  r.start();
  for (int i = 0; i < 5; ++i) write_file(numbered(r.in, i), "x");
  const Webhook sent = r.nth(1);  // unanswered; the one sender waits on it
  REQUIRE(wait_until([&] {
    return status_of(r)["pending"] == 5;  // all committed, the rest not yet in a batch
  }, 20s));
  CHECK(r.agent->stop(SIGKILL) == 128 + SIGKILL);
  r.receiver.set_delay(0ms);
  r.start();
  REQUIRE_MESSAGE(wait_until([&] { return status_of(r)["pending"] == 0; }, 20s),
                  r.agent->output());
  const auto after = r.receiver.received();
  std::set<std::string> objects;
  for (size_t i = 1; i < after.size(); ++i) {
    for (const auto& id : member_ids(after[i])) objects.insert(id);
  }
  CHECK(objects.size() == 5);  // nothing lost
  // The batch that was at the receiver comes again whole, under the same webhook-id.
  const auto again = std::find_if(after.begin() + 1, after.end(), [&](const Webhook& h) {
    return h.header("webhook-id") == sent.header("webhook-id");
  });
  REQUIRE(again != after.end());
  CHECK(member_ids(*again) == member_ids(sent));
}

TEST_CASE("kill -9 while a batch is still forming: after the restart every operation is sent") {
  RunningAgent r(rules_template("", "method = \"POST\"\nbatch_max = 100\nbatch_wait = \"8s\"\n"));
  for (int i = 0; i < 7; ++i) write_file(numbered(r.in, i), "x");
  // Committed (the outbox has them), not yet sent: the batch waits for 100 or 8 s.
  REQUIRE(wait_until([&] { return status_of(r)["pending"] == 7; }, 20s));
  CHECK(r.receiver.count() == 0);
  CHECK(r.agent->stop(SIGKILL) == 128 + SIGKILL);
  r.start();  // the batch_wait counts again from the start
  REQUIRE_MESSAGE(r.receiver.wait_for(1, 20s), r.agent->output());
  std::set<std::string> paths;
  for (const auto& hook : r.receiver.received()) {
    for (const auto& object : json::parse(hook.body)) paths.insert(object["path"]);
  }
  CHECK(paths.size() == 7);
}

TEST_CASE("a signed batch verifies with the standardwebhooks package over the whole array") {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  RunningAgent r(rules_template("", "method = \"POST\"\nbatch_max = 3\nbatch_wait = \"200ms\"\n"
                                    "secret = \"" + secret + "\"\n"));
  for (int i = 0; i < 3; ++i) write_file(numbered(r.in, i), "x");
  const Webhook hook = r.nth(1);
  REQUIRE(json::parse(hook.body).size() == 3);
  CHECK(standardwebhooks_verdict(hook, secret, "post", r.dir) == "verified\n");
}

TEST_CASE("a dead batch leaves each member a dead letter, and replay sends them all again") {
  RunningAgent r(rules_template("retry = [\"100ms\"]\n",
                                "method = \"POST\"\nbatch_max = 3\nbatch_wait = \"200ms\"\n"),
                 /*start_now=*/false);
  start_refused(r, 3);
  const Webhook first = r.nth(1);
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"dead\""));
  REQUIRE(wait_until([&] { return status_of(r)["dead_letters"] == 3; }));
  CHECK(status_of(r)["pending"] == 0);
  r.receiver.set_status(200);
  std::string out;
  REQUIRE(run_folderhook({"replay", "--config", r.dir / "rules.toml"}, out) == 0);
  CHECK(out == "3 dead letter(s) back in the outbox\n");
  REQUIRE(wait_until([&] { return status_of(r)["pending"] == 0; }, 20s));
  std::set<std::string> replayed;
  for (const auto& hook : r.receiver.received()) {
    if (hook.header("webhook-id") == first.header("webhook-id")) continue;  // the batch's tries
    for (const auto& id : member_ids(hook)) replayed.insert(id);
  }
  const auto ids = member_ids(first);
  CHECK(replayed == std::set<std::string>(ids.begin(), ids.end()));  // each keeps its own id
  CHECK(status_of(r)["dead_letters"] == 0);
}
