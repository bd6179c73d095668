// Issue 20 on the relay's side: a relay [[folder]]'s body_template, max_per_second, exec: URLs
// and batch_max/batch_wait, through the real relay binary, a real nats-server, real receivers
// and real programs. Each reuses the agent's code; these tests check the relay's semantics
// (JetStream holds what waits; a redelivery is a retry).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/integration/relay_fixture.h"
#include "tests/support/verifier.h"

using namespace folderhook::test;
using namespace folderhook::test::relay_fixture;

// Named, not anonymous: this file shares a unity batch with other relay tests.
namespace relay_keys_test {

constexpr const char* kRelayKeysSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// A schedule of `n` short retries, for [delivery].
std::string relay_short_retries(int n, const std::string& each = "300ms") {
  std::string list;
  for (int i = 0; i < n; ++i) list += std::string(i ? ", " : "") + "\"" + each + "\"";
  return "timeout = \"2s\"\nretry = [" + list + "]\n";
}


}  // namespace relay_keys_test

using namespace relay_keys_test;

TEST_CASE("relay: body_template renders the message's fields as the agent does, {{id}} = its webhook-id on every redelivery, signed as sent") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_status(503);
  const std::string file = s.write(
      "relay.toml",
      folder("/in", receiver.url(),
             "body_template = '{\"text\": \"{{username}} {{action}} {{path}}\", \"id\": "
             "\"{{id}}\", \"raw\": \"{{path_base64}}\", \"size\": \"{{size}}\"}'\n"
             "content_type = \"application/json; charset=utf-8\"\nsecret = \"" +
                 std::string(kRelayKeysSecret) + "\"\n"),
      relay_short_retries(6));
  StreamMessage m = operation(0);
  nlohmann::json data = nlohmann::json::parse(m.data);
  const std::string odd = "/in/say \"hi\"\\\nnext line.txt";
  data["path"] = odd;
  m.data = data.dump();
  REQUIRE(publish_messages(s.servers, {m}) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE_MESSAGE(receiver.wait_for(2, 20s), relay->output());  // the first attempt and a retry
  receiver.set_status(200);
  REQUIRE_MESSAGE(wait_until([&] { return relay->output().find("\"outcome\":\"delivered\"") !=
                                          std::string::npos; }, 20s),
                  relay->output());
  const auto hooks = receiver.received();
  REQUIRE(hooks.size() >= 3);
  const Webhook& first = hooks.front();
  const Webhook& last = hooks.back();
  CHECK(first.method == "POST");
  CHECK(first.raw_query.empty());
  CHECK(first.header("content-type") == "application/json; charset=utf-8");
  INFO("body: " << first.body);
  const nlohmann::json body = nlohmann::json::parse(first.body);  // valid JSON, odd name and all
  CHECK(body.value("text", std::string()) == "alice create " + odd);
  CHECK(body.value("id", std::string()) == "msg_relay0");
  CHECK(body.value("size", std::string("<absent>")) == "");  // a message carries no size
  REQUIRE(shell("printf %s '" + body.value("raw", std::string()) + "' | base64 -d > " +
                s.dir / "raw") == 0);
  CHECK(read_file(s.dir / "raw") == odd);
  // The same body, under the same webhook-id, on every redelivery; each signed over it.
  for (const Webhook& w : hooks) {
    CHECK(w.header("webhook-id") == "msg_relay0");
    CHECK(w.body == first.body);
  }
  CHECK(standardwebhooks_verdict(first, kRelayKeysSecret, "post", s.dir) == "verified\n");
  CHECK(standardwebhooks_verdict(last, kRelayKeysSecret, "post", s.dir) == "verified\n");
  CHECK(relay->stop(SIGTERM) == 0);
}

TEST_CASE("relay: max_per_second = 20: 60 messages take about 3 s at the receiver, in stream order, the rest waiting in the stream") {
  RelaySetup s;
  Receiver receiver;
  // [relay] batch = 64 would fetch all 60 at once: paced, a fetch asks for a second's worth.
  const std::string file = s.write("relay.toml", folder("/in", receiver.url(), "max_per_second = 20\n"),
                                   "timeout = \"2s\"\n", "batch = 64\n");
  constexpr int kMessages = 60;
  REQUIRE(publish_messages(s.servers, operations(0, kMessages)) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE(receiver.wait_for(10, 10s));
  // Paced, the relay pulls about a second's worth at a time: the others are not handed out yet.
  const nlohmann::json status = relay_status(file);
  const size_t seen = receiver.count();
  CHECK(status.value("delivered_stream_seq", uint64_t{0}) <= seen + 21);
  REQUIRE_MESSAGE(receiver.wait_for(kMessages, 30s), relay->output());
  const auto hooks = receiver.received();
  for (int i = 0; i < kMessages; ++i) {
    CHECK(hooks[static_cast<size_t>(i)].header("webhook-id") == "msg_relay" + std::to_string(i));
  }
  // 59 tokens after the first at 20 a second: 2.95 s, less a token of burst.
  const double span = std::chrono::duration<double>(hooks.back().at - hooks.front().at).count();
  MESSAGE("60 messages at 20/s: " << span << " s, busiest second " << busiest(hooks, 1000ms)
                                   << ", handed out ahead: " << status.value("delivered_stream_seq", uint64_t{0}) << " - " << seen);
  CHECK(span >= 2.85);
  CHECK(span <= 4.5);
  CHECK(busiest(hooks, 1000ms) <= 22);
  CHECK(relay->stop(SIGTERM) == 0);
}

TEST_CASE("relay: max_per_second counts redeliveries: retries and first attempts together stay within the rate") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_status(500);
  const std::string file = s.write("relay.toml", folder("/in", receiver.url(), "max_per_second = 10\n"),
                                   relay_short_retries(40, "100ms"));
  REQUIRE(publish_messages(s.servers, operations(0, 5)) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE_MESSAGE(receiver.wait_for(30, 20s), relay->output());
  const auto hooks = receiver.received();
  std::set<std::string> ids;
  for (const auto& h : hooks) ids.insert(h.header("webhook-id"));
  CHECK(ids.size() == 5);  // 30 attempts of 5 messages: most are redeliveries
  // Unpaced, 5 messages retried every 100 ms would be about 40 attempts a second.
  MESSAGE("attempts in the busiest second at 10/s: " << busiest(hooks, 1000ms));
  CHECK(busiest(hooks, 1000ms) <= 12);
  CHECK(relay->stop(SIGTERM) == 0);
}

TEST_CASE("relay: exec: URLs run the program with the message's fields, as the primary URL or after a failing HTTP one") {
  RelaySetup s;
  Receiver down;
  down.set_status(503);
  const std::string runs = s.dir / "runs";
  const std::string script = s.dir / "hook.sh";
  write_file(script, "#!/bin/sh\nenv > " + runs + "/$FOLDERHOOK_ID.env\ncat > " + runs +
                         "/$FOLDERHOOK_ID.stdin\n");
  REQUIRE(::chmod(script.c_str(), 0755) == 0);
  REQUIRE(shell("mkdir " + runs) == 0);
  const std::string file = s.write(
      "relay.toml", folder("/in", "exec:" + script) + "[[folder]]\npath = \"/other\"\nurls = [\"" +
                        down.url() + "\", \"exec:" + script + "\"]\n");
  std::string out;
  REQUIRE_MESSAGE(run_folderhook({"check", "--config", file}, out) == 0, out);
  REQUIRE(publish_messages(s.servers, operations(0, 2)) == "");
  REQUIRE(publish_messages(s.servers, operations(10, 12, "/other")) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE_MESSAGE(wait_until([&] { return count_of(relay->output(), "\"outcome\":\"delivered\"") == 4; },
                             20s),
                  relay->output());
  for (int i : {0, 1, 10, 11}) {
    const std::string id = "msg_relay" + std::to_string(i);
    CAPTURE(id);
    const std::string env = read_file(runs + "/" + id + ".env");
    CHECK(env.find("FOLDERHOOK_ID=" + id + "\n") != std::string::npos);
    CHECK(env.find("FOLDERHOOK_ACTION=create\n") != std::string::npos);
    CHECK(env.find("FOLDERHOOK_USERNAME=alice\n") != std::string::npos);
    const nlohmann::json in = nlohmann::json::parse(read_file(runs + "/" + id + ".stdin"));
    const std::string dir = i < 10 ? "/in" : "/other";
    CHECK(in.value("path", std::string()) == dir + "/f" + std::to_string(i) + " a&b.txt");
    CHECK(in.value("interface", std::string()) == "sftp");
  }
  // The /other messages went to the HTTP primary first, then to the program.
  CHECK(down.count() == 2);
  CHECK(count_of(relay->output(), "\"url\":\"exec:" + script + "\"") == 4);
  CHECK(relay->stop(SIGTERM) == 0);
}

namespace relay_keys_test {

std::vector<std::string> relay_member_ids(const Webhook& hook) {
  std::vector<std::string> ids;
  for (const auto& object : nlohmann::json::parse(hook.body)) ids.push_back(object.value("id", std::string()));
  return ids;
}

}  // namespace relay_keys_test

TEST_CASE("relay: batch_max = 10: 25 messages are POSTs of 10, 10 and 5 in stream order, the last after batch_wait, signed over the array") {
  RelaySetup s;
  Receiver receiver;
  Receiver other;
  const std::string file = s.write(
      "relay.toml",
      folder("/in", receiver.url(),
             "method = \"POST\"\nbatch_max = 10\nbatch_wait = \"1s\"\nsecret = \"" +
                 std::string(kRelayKeysSecret) + "\"\n") +
          folder("/other", other.url()));
  // Another folder's messages among them: passed over by the batches, delivered on their own.
  REQUIRE(publish_messages(s.servers, operations(0, 12)) == "");
  REQUIRE(publish_messages(s.servers, operations(100, 103, "/other")) == "");
  REQUIRE(publish_messages(s.servers, operations(12, 25)) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE_MESSAGE(receiver.wait_for(3, 20s), relay->output());
  REQUIRE(other.wait_for(3, 10s));
  REQUIRE(wait_until([&] { return relay_status(file).value("pending", int64_t{-1}) == 0; }, 10s));
  const auto hooks = receiver.received();
  REQUIRE(hooks.size() == 3);
  std::vector<std::string> ids;
  std::set<std::string> batch_ids;
  for (const auto& hook : hooks) {
    CHECK(hook.method == "POST");
    CHECK(hook.header("content-type") == "application/json");
    CHECK(hook.header("webhook-id").rfind("batch_", 0) == 0);
    batch_ids.insert(hook.header("webhook-id"));
    for (const auto& object : nlohmann::json::parse(hook.body)) {
      ids.push_back(object.value("id", std::string()));
      const std::string id = object.value("id", std::string());
      CHECK(object.value("path", std::string()) == "/in/f" + id.substr(std::min<size_t>(9, id.size())) + " a&b.txt");
    }
  }
  CHECK(relay_member_ids(hooks[0]).size() == 10);
  CHECK(relay_member_ids(hooks[1]).size() == 10);
  CHECK(relay_member_ids(hooks[2]).size() == 5);
  CHECK(batch_ids.size() == 3);
  REQUIRE(ids.size() == 25);
  for (int i = 0; i < 25; ++i) CHECK(ids[static_cast<size_t>(i)] == "msg_relay" + std::to_string(i));
  // The full batches leave at once; the last waits for its oldest member's batch_wait.
  const double last_after = std::chrono::duration<double>(hooks[2].at - hooks[1].at).count();
  MESSAGE("the batch of 5 came " << last_after << " s after the second batch");
  CHECK(last_after >= 0.8);
  CHECK(standardwebhooks_verdict(hooks[0], kRelayKeysSecret, "post", s.dir) == "verified\n");
  for (const auto& hook : other.received()) CHECK(hook.method == "GET");
  CHECK(count_of(relay->output(), "\"batch\":10") == 2);
  CHECK(count_of(relay->output(), "\"batch\":5") == 1);
  CHECK(relay->stop(SIGTERM) == 0);
}

TEST_CASE("relay: a failed batch is nak'd and retried whole: the same members under the same webhook-id, acknowledged once accepted") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_status(500);
  const std::string file = s.write(
      "relay.toml",
      folder("/in", receiver.url(), "method = \"POST\"\nbatch_max = 4\nbatch_wait = \"200ms\"\n"),
      relay_short_retries(8));
  REQUIRE(publish_messages(s.servers, operations(0, 4)) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE_MESSAGE(receiver.wait_for(2, 20s), relay->output());  // failed, and failed again
  // Nothing acknowledged while the receiver refuses: all four wait in JetStream.
  CHECK(relay_status(file).value("pending", int64_t{-1}) == 4);
  receiver.set_status(200);
  REQUIRE_MESSAGE(relay->wait_for_output("\"outcome\":\"delivered\""), relay->output());
  REQUIRE(wait_until([&] { return relay_status(file).value("pending", int64_t{-1}) == 0; }, 10s));
  const auto hooks = receiver.received();
  for (const auto& hook : hooks) {
    CHECK(hook.header("webhook-id") == hooks.front().header("webhook-id"));
    CHECK(relay_member_ids(hook) == std::vector<std::string>{"msg_relay0", "msg_relay1", "msg_relay2",
                                                       "msg_relay3"});
  }
  CHECK(count_of(relay->output(), "\"outcome\":\"retry\"") == hooks.size() - 1);
  CHECK(count_of(relay->output(), "\"outcome\":\"delivered\"") == 1);
  CHECK(relay->stop(SIGTERM) == 0);
}
