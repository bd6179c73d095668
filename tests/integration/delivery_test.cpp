// Delivery as an operator sees it through the real binary: redundant URLs, dead letters and
// their email, status, replay, test-hook, and the state_dir lock.
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <vector>

#include "tests/support/running_agent.h"
#include "tests/support/server_process.h"
#include "tests/support/smtp_server.h"
#include "tests/support/test_ca.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using nlohmann::json;

namespace {

json status_of(const RunningAgent& r) {
  std::string out;
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  return json::parse(out);
}

}  // namespace

TEST_CASE("with the primary down, the redundant URL gets the delivery, once") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string dead = "http://127.0.0.1:" + std::to_string(unused_port()) + "/hook";
  std::string rules = rules_template();
  rules.replace(rules.find("urls = [\"{URL}\"]"), 16, "urls = [\"" + dead + "\", \"{URL}\"]");
  r.write_rules(rules);
  r.start();
  write_file(r.in + "/a.txt", "x");
  CHECK(r.nth(1).param("path") == r.in + "/a.txt");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  CHECK(r.agent->output().find("\"url\":\"" + r.receiver.url() + "\"") != std::string::npos);
  CHECK(r.receiver.count() == 1);
}

TEST_CASE("a delivery that used every retry is a dead letter: one email, status, then replay") {
  SmtpServer smtp;
  REQUIRE_MESSAGE(smtp.started(), "python3 -m aiosmtpd did not start (apt install python3-aiosmtpd)");
  RunningAgent r(rules_template("retry = [\"100ms\", \"100ms\"]\n") +
                 "\n[notify]\nsmtp_url = \"" + smtp.url() + "\"\nto = [\"ops@example.com\"]\n",
                 /*start_now=*/false);
  r.receiver.set_status(500);
  r.start();
  write_file(r.in + "/doomed.csv", "x");
  const Webhook first = r.nth(3);  // the first attempt and two retries
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"dead\""));
  REQUIRE(wait_until([&] { return smtp.messages().size() == 1; }, std::chrono::seconds(20)));
  const std::string mail = smtp.messages()[0];
  CHECK(mail.find("ops@example.com") != std::string::npos);
  CHECK(mail.find("doomed.csv") != std::string::npos);
  CHECK(mail.find(r.receiver.url()) != std::string::npos);
  CHECK(mail.find("500") != std::string::npos);

  const json status = status_of(r);
  CHECK(status["dead_letters"] == 1);
  CHECK(status["pending"] == 0);

  r.receiver.set_status(200);
  std::string out;
  REQUIRE(run_folderhook({"replay", "--config", r.dir / "rules.toml"}, out) == 0);
  CHECK(out == "1 dead letter(s) back in the outbox\n");
  const Webhook replayed = r.nth(4);
  CHECK(replayed.param("path") == r.in + "/doomed.csv");
  CHECK(replayed.header("webhook-id") == r.receiver.received()[0].header("webhook-id"));
  CHECK(first.header("webhook-id") == replayed.header("webhook-id"));
  REQUIRE(wait_until([&] { return status_of(r)["dead_letters"] == 0; }));
  CHECK(smtp.messages().size() == 1);
}

TEST_CASE("test-hook sends test=1 to every URL of the folder and exits by whether one accepted") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  std::string out;
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 0);
  CHECK(out.rfind(r.receiver.url() + ": 200 in ", 0) == 0);
  REQUIRE(r.receiver.wait_for(1));
  const Webhook hook = r.receiver.received()[0];
  CHECK(hook.param("test") == "1");
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("path") == r.in + "/folderhook-test-hook.txt");

  r.receiver.set_status(503);
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 1);
  CHECK(out.find(": 503 in ") != std::string::npos);
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.dir / "elsewhere"}, out) == 2);
  CHECK(out.find("is not a folder of") != std::string::npos);
}

TEST_CASE("a second agent on the same state_dir exits 2 and names the first") {
  RunningAgent r;
  std::string out;
  CHECK(run_folderhook({"run", "--config", r.dir / "rules.toml"}, out) == 2);
  CHECK(out.find("is in use by another folderhook agent (pid " + std::to_string(r.agent->pid())) !=
        std::string::npos);
  CHECK(r.agent->running());
}

TEST_CASE("HTTPS receivers are verified: delivered with their CA, refused without it") {
  TestCa ca;
  Receiver https(ca.cert, ca.key);
  RunningAgent r(rules_template("ca_file = \"" + ca.ca + "\"\n"), /*start_now=*/false);
  std::string rules = r.expand(rules_template("ca_file = \"" + ca.ca + "\"\n"));
  rules.replace(rules.find(r.receiver.url()), r.receiver.url().size(), https.url());
  write_file(r.dir / "rules.toml", rules);
  r.start();
  write_file(r.in + "/secure.txt", "x");
  REQUIRE(https.wait_for(1));
  CHECK(https.received()[0].param("path") == r.in + "/secure.txt");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  REQUIRE(r.agent->stop(SIGTERM) == 0);

  // The same receiver against the system's CAs: a certificate error, never a delivery.
  rules.replace(rules.find("ca_file = \"" + ca.ca + "\"\n"), 12 + ca.ca.size(), "retry = [\"1h\"]\n");
  write_file(r.dir / "rules.toml", rules);
  r.start();
  write_file(r.in + "/refused.txt", "x");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"retry\""));
  const std::string log = r.agent->output();
  INFO(log);
  CHECK(log.find("refused.txt") != std::string::npos);
  CHECK(log.find("certificate") != std::string::npos);
  CHECK(https.count() == 1);
}

TEST_CASE("a stop lets an attempt in flight finish, so its answer is recorded and not sent again") {
  RunningAgent r;
  r.receiver.set_delay(std::chrono::milliseconds(700));
  write_file(r.in + "/slow.txt", "x");
  REQUIRE(r.receiver.wait_for(1));  // the request is at the receiver, its answer not yet sent
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  CHECK(r.agent->output().find("\"outcome\":\"delivered\"") != std::string::npos);
  CHECK(status_of(r)["pending"] == 0);
}

TEST_CASE("a receiver that sends headers and body in two packets gets no delayed-ACK stall") {
  // Python's http.server on HTTP/1.1 keep-alive writes a response in two send() calls and
  // holds the second under Nagle until the first is acknowledged; a client that lets Linux
  // delay that ACK waits 40 ms or more (TCP_DELACK_MIN) on every request. The agent logs each
  // attempt's duration as `ms`: stalled, every one is >= 40.
  TempDir server_dir;
  const int port = unused_port();
  const std::string script = std::string(VERIFIER_DIR) + "/../../support/two_packet_receiver.py";
  ServerProcess receiver;
  REQUIRE_MESSAGE(receiver.start({"/usr/bin/python3", script, std::to_string(port),
                                  server_dir / "requests.log"},
                                 server_dir / "server.log", port),
                  receiver.why());
  RunningAgent r(rules_template(), /*start_now=*/false);
  std::string rules = rules_template();
  rules.replace(rules.find("{URL}"), 5, "http://127.0.0.1:" + std::to_string(port) + "/hook");
  r.write_rules(rules);
  r.start();
  constexpr int kFiles = 40;
  for (int i = 0; i < kFiles; ++i) write_file(r.in + "/f" + std::to_string(i), "x");
  std::vector<long> ms;
  REQUIRE_MESSAGE(wait_until([&] {
                    ms.clear();
                    std::istringstream lines(r.agent->output());
                    for (std::string line; std::getline(lines, line);) {
                      if (line.find("\"outcome\":\"delivered\"") == std::string::npos) continue;
                      ms.push_back(json::parse(line).at("ms").get<long>());
                    }
                    return ms.size() == kFiles;
                  }, std::chrono::seconds(30)),
                  r.agent->output());
  std::sort(ms.begin(), ms.end());
  INFO("attempt durations in ms, sorted: " << json(ms).dump());
  CHECK(ms[kFiles / 2] < 20);
}
