// `folderhook relay` against real nats-server processes and real HTTP receivers started here:
// relays sharing one durable consumer split a stream and deliver each message once; a
// receiver down then up gets the retries with the same webhook-id; every URL down through a
// short schedule makes a dead letter in JetStream, the email, and `replay` delivers it; a
// relay killed mid-stream loses nothing.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/agent_process.h"
#include "tests/support/nats_server.h"
#include "tests/support/receiver.h"
#include "tests/support/smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"
#include "tests/integration/relay_fixture.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

using namespace folderhook::test::relay_fixture;


TEST_CASE("relay: check validates the relay's file and names what is wrong") {
  TempDir dir;
  const std::string good = dir / "relay.toml";
  write_file(good, "[relay]\nsource = \"nats://127.0.0.1:4222/FILES\"\n\n[[folder]]\npath = "
                   "\"/in\"\nurls = [\"http://127.0.0.1:9/hook\"]\n");
  std::string out;
  CHECK(run_folderhook({"check", "--config", good}, out) == 0);
  CHECK(out.find("relay of stream FILES (consumer folderhook-relay, dead letters in FILES_DEAD)") !=
        std::string::npos);

  const std::string bad = dir / "bad.toml";
  write_file(bad, "[relay]\nsource = \"nats://127.0.0.1:4222/FILES.x\"\nconsumr = \"a\"\n\n"
                  "[[folder]]\npath = \"/in\"\nurls = [\"nats://127.0.0.1:4222/s\"]\n");
  CHECK(run_folderhook({"check", "--config", bad}, out) == 2);
  CHECK(out.find("relay.source must end with /STREAM") != std::string::npos);
  CHECK(out.find("unknown key 'consumr' in [relay]") != std::string::npos);
  CHECK(out.find("a relay delivers over HTTP or exec: only") != std::string::npos);
  const std::string sized = dir / "sized.toml";
  write_file(sized, "[relay]\nsource = \"nats://127.0.0.1:4222/FILES\"\n\n[[folder]]\npath = "
                    "\"/in\"\nurls = [\"http://127.0.0.1:9/hook\"]\nmin_size = 5\n");
  CHECK(run_folderhook({"check", "--config", sized}, out) == 2);
  CHECK(out.find("folder.min_size is not used by a relay") != std::string::npos);
  // An agent's file is still the agent's.
  CHECK(run_folderhook({"relay", "--config", dir / "missing.toml"}, out) == 2);
}

TEST_CASE("relay: two relays on one consumer deliver every message once, split between them, as the agent's request") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_delay(5ms);  // both relays get their share
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string file = s.write(
      "relay.toml", folder("/in", receiver.url(),
                           "headers = { X-Team = \"ops\" }\nsecret = \"" + secret + "\"") +
                        folder("/other", receiver.url("/other")));
  constexpr int kMessages = 300;
  REQUIRE(publish_messages(s.servers, operations(0, kMessages)) == "");
  // Routed by path prefix: none of these is under a [[folder]]'s path.
  REQUIRE(publish_messages(s.servers, operations(1000, 1010, "/elsewhere")) == "");
  auto a = s.start(file, "a.log");
  auto b = s.start(file, "b.log");
  REQUIRE_MESSAGE(receiver.wait_for(kMessages, 60s), (a->output() + b->output()));
  REQUIRE(wait_until([&] { return relay_status(file).value("pending", int64_t{-1}) == 0; }, 20s));

  const auto ids = ids_received(receiver);
  CHECK(ids.size() == kMessages);
  for (const auto& [id, n] : ids) {
    CAPTURE(id);
    CHECK(n == 1);
  }
  const size_t by_a = count_of(a->output(), "\"outcome\":\"delivered\"");
  const size_t by_b = count_of(b->output(), "\"outcome\":\"delivered\"");
  CHECK(by_a + by_b == kMessages);
  CHECK(by_a > 0);
  CHECK(by_b > 0);

  // The agent's request: GET with the fields in the webhook's order, the folder's headers, the
  // signature, webhook-id = the message's Nats-Msg-Id.
  const Webhook w = receiver.received().front();
  CHECK(w.method == "GET");
  CHECK(w.path == "/hook");
  CHECK(w.names() == std::vector<std::string>{"action", "interface", "path", "at", "username", "type"});
  CHECK(w.param("path").find(" a&b.txt") != std::string::npos);
  CHECK(w.header("x-team") == "ops");
  CHECK(w.header("webhook-signature").rfind("v1,", 0) == 0);
  CHECK(w.header("webhook-id").rfind("msg_relay", 0) == 0);
  for (const Webhook& hook : receiver.received()) {
    CAPTURE(hook.param("path"));
    CHECK(hook.param("path").rfind("/in/", 0) == 0);  // routed by the path's prefix
  }
  const nlohmann::json status = relay_status(file);
  CHECK(status.value("redelivered", int64_t{-1}) == 0);
  CHECK(status.value("dead_letters", int64_t{-1}) == 0);
  CHECK(a->stop(SIGTERM) == 0);
  CHECK(b->stop(SIGTERM) == 0);
}

TEST_CASE("relay: a receiver down then up: retried on the schedule with the same webhook-id, then delivered") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_status(503);
  const std::string file = s.write("relay.toml", folder("/in", receiver.url()),
                                   "timeout = \"2s\"\nretry = [\"300ms\", \"300ms\", \"300ms\", "
                                   "\"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\", "
                                   "\"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\"]\n");
  REQUIRE(publish_messages(s.servers, operations(0, 3)) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE(receiver.wait_for(6, 20s));  // each tried at least twice while it answers 503
  CHECK(relay->output().find("\"outcome\":\"retry\"") != std::string::npos);
  CHECK(relay->output().find("\"status\":503") != std::string::npos);
  receiver.set_status(200);
  REQUIRE_MESSAGE(wait_until([&] { return count_of(relay->output(), "\"outcome\":\"delivered\"") == 3; },
                             20s),
                  relay->output());
  const auto ids = ids_received(receiver);
  CHECK(ids.size() == 3);  // every retry carried its message's webhook-id
  for (const auto& [id, n] : ids) CHECK(n >= 2);
  CHECK(relay_status(file).value("pending", int64_t{-1}) == 0);
  CHECK(relay->stop(SIGTERM) == 0);
}

TEST_CASE("relay: every URL down through a short schedule: a dead letter in JetStream, the email, and replay delivers it with its webhook-id") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_status(503);
  SmtpServer smtp;
  REQUIRE(smtp.started());
  Receiver backup;
  backup.set_status(500);
  const std::string file =
      s.write("relay.toml", "[[folder]]\npath = \"/in\"\nurls = [\"" + receiver.url() + "\", \"" +
                                backup.url("/b") + "\"]\n",
              "timeout = \"2s\"\nretry = [\"200ms\", \"200ms\"]\n",
              "[notify]\nsmtp_url = \"" + smtp.url() + "\"\nto = [\"ops@example.com\"]\n");
  REQUIRE(publish_messages(s.servers, operations(0, 2)) == "");
  auto relay = s.start(file, "relay.log");
  REQUIRE_MESSAGE(
      wait_until([&] { return count_of(relay->output(), "\"outcome\":\"dead\"") == 2; }, 20s),
      relay->output());
  CHECK(receiver.count() == 6);  // three attempts each: the first and the two retries
  CHECK(backup.count() == 6);    // the redundant URL after the primary, every time

  std::vector<nlohmann::json> dead = dead_letters(file);
  REQUIRE(dead.size() == 2);
  // Listed in the order they died, which the retries' jitter decides.
  if (dead[0]["id"] != "msg_relay0") std::swap(dead[0], dead[1]);
  CHECK(dead[0]["id"] == "msg_relay0");
  CHECK(dead[0]["attempts"] == 3);
  CHECK(dead[0]["last_status"] == 500);
  CHECK(dead[0]["subject"] == "files.create");
  CHECK(dead[0]["path"] == "/in/f0 a&b.txt");
  CHECK(stream_count(s.servers, "FILES_DEAD") == 2);  // kept in JetStream, the README's stream
  nlohmann::json status = relay_status(file);
  CHECK(status.value("dead_letters", int64_t{-1}) == 2);
  CHECK(status.value("pending", int64_t{-1}) == 0);  // a dead letter is acknowledged

  REQUIRE(wait_until([&] { return !smtp.messages().empty(); }, 20s));
  const std::string email = smtp.messages().front();
  CHECK(email.find("2 webhook deliveries failed for /in") != std::string::npos);
  CHECK(email.find("/in/f0 a&b.txt") != std::string::npos);

  receiver.set_status(200);
  std::string out;
  CHECK(run_folderhook({"replay", "--config", file, "--id", "msg_relay1"}, out) == 0);
  CHECK(out.find("replayed 1 dead letter(s)") != std::string::npos);
  REQUIRE_MESSAGE(wait_until([&] { return count_of(relay->output(), "\"outcome\":\"delivered\"") == 1; },
                             20s),
                  relay->output());
  CHECK(receiver.received().back().header("webhook-id") == "msg_relay1");
  CHECK(dead_letters(file).size() == 1);
  CHECK(run_folderhook({"replay", "--config", file, "--id", "msg_nothing"}, out) == 1);
  CHECK(run_folderhook({"replay", "--config", file}, out) == 0);
  REQUIRE(wait_until([&] { return count_of(relay->output(), "\"outcome\":\"delivered\"") == 2; }, 20s));
  CHECK(receiver.received().back().header("webhook-id") == "msg_relay0");
  CHECK(dead_letters(file).empty());
  CHECK(relay_status(file).value("dead_letters", int64_t{-1}) == 0);
  CHECK(relay->stop(SIGTERM) == 0);
}

TEST_CASE("relay: one of two relays killed with SIGKILL mid-stream: every message delivered, a duplicate only with the same webhook-id, and healthz, metrics and status say so") {
  RelaySetup s;
  Receiver receiver;
  receiver.set_delay(10ms);
  // A short AckWait: the killed relay's messages go to the other one after 3 s.
  const std::string file = s.write("relay.toml", folder("/in", receiver.url()),
                                   "timeout = \"2s\"\n", "ack_wait = \"3s\"\n");
  constexpr int kMessages = 400;
  REQUIRE(publish_messages(s.servers, operations(0, kMessages)) == "");
  auto a = s.start(file, "a.log");
  auto b = s.start(file, "b.log");
  REQUIRE(wait_until([&] { return count_of(a->output(), "\"outcome\":\"delivered\"") >= 50; }, 30s));
  CHECK(a->stop(SIGKILL) == 128 + SIGKILL);
  REQUIRE_MESSAGE(wait_until([&] { return ids_received(receiver).size() == kMessages; }, 60s),
                  b->output());
  REQUIRE(wait_until([&] { return relay_status(file).value("pending", int64_t{-1}) == 0; }, 20s));

  // A message delivered twice (the killed relay's request arrived, its acknowledgement never
  // left) carries the same webhook-id both times: one id per path.
  check_one_id_per_path(receiver, kMessages);
  const size_t duplicates = receiver.count() - kMessages;
  CHECK(duplicates <= 16);  // at most the killed relay's batch in flight
  MESSAGE("duplicates after SIGKILL: " << duplicates);

  httplib::Client http("127.0.0.1", status_port_of(*b));
  const auto health = http.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  const auto metrics = http.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("folderhook_relay_consumer_pending 0") != std::string::npos);
  CHECK(metrics->body.find("folderhook_relay_consumer_redelivered 0") != std::string::npos);
  CHECK(metrics->body.find("folderhook_deliveries_total ") != std::string::npos);
  const auto status = http.Get("/status");
  REQUIRE(status);
  const nlohmann::json json = nlohmann::json::parse(status->body, nullptr, false);
  CHECK(json.value("pending", int64_t{-1}) == 0);
  CHECK(json.contains("redelivered"));
  // The killed relay's messages were handed out again: the server counted them.
  CHECK(b->output().find("\"attempt\":2") != std::string::npos);
  CHECK(b->stop(SIGTERM) == 0);
}
