// Publishing into NATS JetStream through the real binary, against real nats-server processes
// started here on loopback (tests/support/nats_server.h): what a message holds, a server down
// then up, the agent killed mid-burst, NATS beside HTTP, and dead letters. The cluster case is
// in nats_cluster_test.cpp.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <set>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/integration/no_loss.h"
#include "tests/support/nats_credentials.h"
#include "tests/support/nats_server.h"
#include "tests/support/running_agent.h"
#include "tests/support/smtp_server.h"
#include "tests/support/test_ca.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNatsSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// rules_template with `urls` in place of the receiver's URL.
std::string nats_rules(const std::string& urls, const std::string& delivery = "",
                       const std::string& folder = "", const std::string& agent = "") {
  std::string rules = rules_template(delivery, folder, agent);
  const std::string from = "urls = [\"{URL}\"]";
  rules.replace(rules.find(from), from.size(), "urls = [" + urls + "]");
  return rules;
}

// "create /in/a", "move /in/a -> /in/b" of each distinct message (by Nats-Msg-Id), counted;
// `copies` counts the messages the stream holds per id.
std::map<std::string, int> distinct_in_stream(const std::vector<StreamMessage>& messages,
                                              const std::string& base,
                                              std::map<std::string, int>* copies = nullptr) {
  std::map<std::string, int> out;
  std::set<std::string> ids;
  for (const auto& m : messages) {
    const std::string id = m.headers.count("Nats-Msg-Id") ? m.headers.at("Nats-Msg-Id") : "";
    if (copies != nullptr) ++(*copies)[id];
    if (!ids.insert(id).second) continue;
    const json body = json::parse(m.data, nullptr, false);
    const auto rel = [&](std::string p) { return p.rfind(base, 0) == 0 ? p.substr(base.size()) : p; };
    std::string what = body.value("action", "?") + " " + rel(body.value("path", "?"));
    if (body.contains("destination")) what += " -> " + rel(body.value("destination", ""));
    ++out[what];
  }
  return out;
}

int64_t pending_of(RunningAgent& r) {
  std::string out;
  if (run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) != 0) return -1;
  return json::parse(out, nullptr, false).value("pending", int64_t{-1});
}

std::string create_stream_with_command(RunningAgent& r, const std::string& name,
                                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"nats-stream", "--config", r.dir / "rules.toml", r.in,
                                   "--name", name};
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out;
  const int rc = run_folderhook(args, out);
  INFO(out);
  CHECK(rc == 0);
  return out;
}

// test-hook run with `rules` (the agent not started) fails (exit 1): what it printed.
std::string test_hook_failure(const std::string& rules) {
  RunningAgent r(rules, /*start_now=*/false);
  std::string out;
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 1);
  return out;
}

// An agent with `rules` (its credentials among them) delivers a create into the stream FILES,
// which `reader` reads; `secret` shows neither in its log nor in status.
void delivered_and_never_logged(const std::string& rules, const std::string& reader,
                                const std::string& secret) {
  RunningAgent r(rules);
  write_file(r.in + "/a.txt", "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  CHECK(stream_count(reader, "FILES") == 1);
  CHECK(r.agent->output().find(secret) == std::string::npos);
  std::string out;
  CHECK(run_folderhook({"status", "--config", r.dir / "rules.toml"}, out) == 0);
  CHECK(out.find(secret) == std::string::npos);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

}  // namespace

TEST_CASE("nats: create, move and destroy are in the stream with their fields, subject, headers and ids") {
  NatsServer server;
  REQUIRE(server.started());
  RunningAgent r(nats_rules("\"nats://127.0.0.1:" + std::to_string(server.port()) +
                                "/files.{action}\"",
                            "", "secret = \"" + std::string(kNatsSecret) + "\"\n"),
                 /*start_now=*/false);
  // The operator's way to set the stream up, with nothing but folderhook.
  const std::string made = create_stream_with_command(r, "FILES", {"--duplicate-window", "1h"});
  CHECK(made.find("stream FILES: subjects files.*, replicas 1, storage file, duplicate window 3600s") == 0);
  r.start();
  write_file(r.in + "/a.txt", "x");
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") == 1; }));
  REQUIRE(shell("mv " + r.in + "/a.txt " + r.in + "/b.txt") == 0);
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") == 2; }));
  REQUIRE(shell("rm " + r.in + "/b.txt") == 0);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") == 3; }));
  std::string error;
  const auto messages = read_stream(server.url(), "FILES", error);
  REQUIRE_MESSAGE(messages.size() == 3, error);

  const char* subjects[] = {"files.create", "files.move", "files.destroy"};
  // A line is written once its result is committed, just after the acknowledgement.
  REQUIRE(wait_until([&] { return no_loss::log_lines(r.agent->output(), "delivery").size() == 3; }));
  const auto deliveries = no_loss::log_lines(r.agent->output(), "delivery");
  for (size_t i = 0; i < 3; ++i) {
    const StreamMessage& m = messages[i];
    CHECK(m.subject == subjects[i]);
    const json body = json::parse(m.data);
    CHECK(body["interface"] == "sftp");
    CHECK(body["type"] == "file");
    CHECK(body["username"].is_string());
    CHECK(body["at"].get<std::string>().size() == 25);
    CHECK(m.headers.at("Content-Type") == "application/json");
    CHECK(m.headers.at("Nats-Msg-Id") == m.headers.at("webhook-id"));
    CHECK(m.headers.at("webhook-id").rfind("msg_", 0) == 0);
    CHECK(m.headers.at("webhook-signature").rfind("v1,", 0) == 0);
    CHECK(std::stoll(m.headers.at("webhook-timestamp")) > 1'700'000'000);
    // The id of the log line that said delivered for it.
    bool logged = false;
    for (const auto& line : deliveries) {
      logged = logged || (line["id"] == m.headers.at("webhook-id") && line["outcome"] == "delivered");
    }
    CHECK(logged);
  }
  CHECK(json::parse(messages[0].data)["action"] == "create");
  CHECK(json::parse(messages[0].data)["path"] == r.in + "/a.txt");
  CHECK_FALSE(json::parse(messages[0].data).contains("destination"));
  CHECK(json::parse(messages[1].data)["path"] == r.in + "/a.txt");
  CHECK(json::parse(messages[1].data)["destination"] == r.in + "/b.txt");
  CHECK(json::parse(messages[2].data)["path"] == r.in + "/b.txt");
  // The signature is the Standard Webhooks one over the body: the standardwebhooks package's
  // own verifier (tests/integration/verifier) accepts it.
  const StreamMessage& first = messages[0];
  const json c = {{"secret", kNatsSecret},
                  {"form", "post"},
                  {"payload", first.data},
                  {"headers",
                   {{"webhook-id", first.headers.at("webhook-id")},
                    {"webhook-timestamp", first.headers.at("webhook-timestamp")},
                    {"webhook-signature", first.headers.at("webhook-signature")}}}};
  write_file(r.dir / "case.json", c.dump());
  shell(std::string("cd ") + VERIFIER_DIR + " && node verify.js " + r.dir / "case.json" + " > " +
        r.dir / "verdict 2>&1");
  CHECK(read_file(r.dir / "verdict") == "verified\n");
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: no stream for the subject, or JetStream off, is a failed attempt with the reason, never delivered") {
  NatsServer plain(/*jetstream=*/false);
  NatsServer server;
  REQUIRE(plain.started());
  REQUIRE(server.started());
  RunningAgent r(nats_rules("\"nats://127.0.0.1:" + std::to_string(server.port()) +
                                "/files.{action}\", \"nats://127.0.0.1:" +
                                std::to_string(plain.port()) + "/files.{action}\"",
                            "retry = [\"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\", "
                            "\"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\"]\n"));
  write_file(r.in + "/a.txt", "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"retry\""));
  const auto retry = no_loss::log_lines(r.agent->output(), "delivery").at(0);
  CHECK(retry["outcome"] == "retry");
  const std::string error = retry["error"];
  CHECK(error.find("no JetStream stream captures subject 'files.create' (or JetStream is not "
                   "enabled on the server)") != std::string::npos);
  CHECK(error.find(std::to_string(plain.port())) != std::string::npos);
  CHECK(r.agent->output().find("\"outcome\":\"delivered\"") == std::string::npos);
  // The stream appears: the next retry is delivered, once.
  REQUIRE(add_stream(server.url(), "FILES", {"files.>"}) == "");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  CHECK(stream_count(server.url(), "FILES") == 1);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: a full stream refuses the message: a failed attempt with JetStream's reason") {
  NatsServer server;
  REQUIRE(server.started());
  REQUIRE(add_stream(server.url(), "FULL", {"files.>"}, 1, 120, /*max_msgs=*/1) == "");
  RunningAgent r(nats_rules("\"nats://127.0.0.1:" + std::to_string(server.port()) + "/files.{action}\"",
                            "retry = [\"10s\"]\n"));
  write_file(r.in + "/a.txt", "x");
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FULL") == 1; }));
  write_file(r.in + "/b.txt", "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"retry\""));
  const auto lines = no_loss::log_lines(r.agent->output(), "delivery");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["path"] == r.in + "/b.txt");
  CHECK(lines[1]["error"].get<std::string>().rfind(
            "JetStream refused the message on 'files.create': ", 0) == 0);
  CHECK(lines[1]["error"].get<std::string>().find("(error code ") != std::string::npos);
  CHECK(stream_count(server.url(), "FULL") == 1);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: nats_token authenticates to a server that requires it, and is never logged") {
  NatsServer server(/*jetstream=*/true, "tok3n-s3cret");
  REQUIRE(server.started());
  const std::string with_token = "nats://tok3n-s3cret@127.0.0.1:" + std::to_string(server.port());
  REQUIRE(add_stream(with_token, "FILES", {"files.>"}) == "");
  const std::string url = "\"nats://127.0.0.1:" + std::to_string(server.port()) + "/files.{action}\"";
  // Without the token: refused, with the server's reason.
  CHECK(test_hook_failure(nats_rules(url)).find("cannot connect to NATS") != std::string::npos);
  delivered_and_never_logged(nats_rules(url, "", "nats_token = \"tok3n-s3cret\"\n"), with_token,
                             "tok3n");
}

TEST_CASE("nats: tls:// is verified against ca_file: delivered with the server's CA, refused without it") {
  TestCa ca;
  NatsServer::Options tls;
  tls.tls_cert = ca.cert;
  tls.tls_key = ca.key;
  NatsServer server(tls);
  REQUIRE(server.started());
  const std::string reader = "tls://127.0.0.1:" + std::to_string(server.port());
  REQUIRE(add_stream(reader, "FILES", {"files.>"}) == "");
  const std::string url = "\"tls://127.0.0.1:" + std::to_string(server.port()) + "/files.{action}\"";
  // The system's CAs do not know the test's CA: the handshake fails, nothing is published.
  CHECK(test_hook_failure(nats_rules(url)).find("cannot connect to NATS") != std::string::npos);
  CHECK(stream_count(reader, "FILES") == 0);
  // A plain nats:// URL to the same server is refused too: it only speaks TLS.
  test_hook_failure(nats_rules("\"nats://127.0.0.1:" + std::to_string(server.port()) + "/files.x\""));
  RunningAgent r(nats_rules(url, "ca_file = \"" + ca.ca + "\"\n"));
  write_file(r.in + "/a.txt", "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  std::string error;
  const auto messages = read_stream(reader, "FILES", error);
  REQUIRE(error == "");
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].subject == "files.create");
  CHECK(json::parse(messages[0].data).value("path", "") == r.in + "/a.txt");
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: nats_creds (an NKey and a user JWT) authenticates to a server in operator mode, and is never logged") {
  TempDir keys;
  const NatsCredentials creds = make_nats_credentials(keys.path());
  REQUIRE(creds.creds_file != "");
  NatsServer::Options operator_mode;
  operator_mode.extra_config = creds.server_config;
  NatsServer server(operator_mode);
  REQUIRE(server.started());
  set_reader_credentials(creds.creds_file);
  struct Reset {
    ~Reset() { set_reader_credentials(""); }
  } reset;
  REQUIRE(add_stream(server.url(), "FILES", {"files.>"}) == "");
  const std::string url = "\"" + server.url() + "/files.{action}\"";
  // Without credentials: refused, with the server's reason.
  CHECK(test_hook_failure(nats_rules(url)).find("cannot connect to NATS") != std::string::npos);
  delivered_and_never_logged(nats_rules(url, "", "nats_creds = \"" + creds.creds_file + "\"\n"),
                             server.url(), creds.user_seed);
}

TEST_CASE("nats: the server down when the operations happen, up later: each operation in the stream once") {
  NatsServer server;
  REQUIRE(server.started());
  REQUIRE(add_stream(server.url(), "FILES", {"files.>"}) == "");
  RunningAgent r(nats_rules("\"nats://127.0.0.1:" + std::to_string(server.port()) + "/files.{action}\"",
                            "retry = [\"500ms\", \"500ms\", \"500ms\", \"500ms\", \"500ms\", "
                            "\"500ms\", \"500ms\", \"500ms\", \"500ms\", \"500ms\", \"500ms\", "
                            "\"500ms\", \"500ms\", \"500ms\", \"500ms\", \"500ms\"]\n"
                            "timeout = \"1s\"\n"));
  // Connected first, then the server goes: the client library reconnects on its own.
  write_file(r.in + "/before", "x");
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") == 1; }));
  server.stop(SIGTERM);
  constexpr int kFiles = 50;
  for (int i = 0; i < kFiles; ++i) write_file(r.in + "/f" + std::to_string(i), "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"retry\"", 10s));
  REQUIRE(server.start());
  REQUIRE(wait_until([&] { return no_loss::log_lines(r.agent->output(), "delivery").size() > 0 &&
                                  stream_count(server.url(), "FILES") == kFiles + 1; },
                     30s));
  // Every delivery said delivered; the retries of those whose acknowledgement was lost were
  // dropped by JetStream as duplicates.
  REQUIRE(wait_until([&] {
    int delivered = 0;
    for (const auto& l : no_loss::log_lines(r.agent->output(), "delivery")) {
      delivered += l["outcome"] == "delivered";
    }
    return delivered == kFiles + 1;
  }, 30s));
  std::string error;
  const auto messages = read_stream(server.url(), "FILES", error);
  std::map<std::string, int> copies;
  const auto got = distinct_in_stream(messages, r.dir.path(), &copies);
  CHECK(messages.size() == kFiles + 1);
  CHECK(got.size() == kFiles + 1);
  for (const auto& [id, n] : copies) CHECK_MESSAGE(n == 1, id);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: publishes whose acknowledgement never came are sent again with the same Nats-Msg-Id, and JetStream drops the copy") {
  // The server is frozen (SIGSTOP) with the agent connected: its publishes wait in the
  // server's socket, unanswered, so each first attempt fails by timeout and is retried. When
  // the server runs again it reads both the first publish and at least one retry of each
  // operation: the stream must hold each once.
  NatsServer server;
  REQUIRE(server.started());
  REQUIRE(add_stream(server.url(), "FILES", {"files.>"}) == "");
  std::string retries = "retry = [";
  for (int i = 0; i < 40; ++i) retries += std::string(i ? ", " : "") + "\"300ms\"";
  RunningAgent r(nats_rules("\"" + server.url() + "/files.{action}\"", retries + "]\ntimeout = \"1s\"\n"));
  write_file(r.in + "/before", "x");
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") == 1; }));
  REQUIRE(::kill(server.pid(), SIGSTOP) == 0);
  struct Thaw {
    pid_t pid;
    ~Thaw() { ::kill(pid, SIGCONT); }
  } thaw{server.pid()};
  constexpr int kFiles = 30;
  for (int i = 0; i < kFiles; ++i) write_file(r.in + "/f" + std::to_string(i), "x");
  INFO("agent log:\n" << r.agent->output());
  // Each was published and its acknowledgement waited for in vain.
  const auto unacknowledged = [&] {
    std::set<std::string> ids;
    for (const auto& l : no_loss::log_lines(r.agent->output(), "delivery")) {
      if (l["outcome"] == "retry" &&
          l["error"].get<std::string>().find("no acknowledgement from JetStream") != std::string::npos) {
        ids.insert(l["id"].get<std::string>());
      }
    }
    return ids;
  };
  REQUIRE(wait_until([&] { return unacknowledged().size() == kFiles; }, 30s));
  REQUIRE(::kill(server.pid(), SIGCONT) == 0);
  REQUIRE(wait_until([&] {
    int delivered = 0;
    for (const auto& l : no_loss::log_lines(r.agent->output(), "delivery")) {
      delivered += l["outcome"] == "delivered";
    }
    return delivered == kFiles + 1;
  }, 60s));
  // Every operation was published at least twice (the first attempt, then the one delivered).
  for (const auto& l : no_loss::log_lines(r.agent->output(), "delivery")) {
    if (l["outcome"] == "delivered" && l["path"] != r.in + "/before") CHECK(l["attempt"].get<int>() >= 2);
  }
  std::string error;
  const auto messages = read_stream(server.url(), "FILES", error);
  REQUIRE(error == "");
  std::map<std::string, int> copies;
  const auto got = distinct_in_stream(messages, r.dir.path(), &copies);
  CHECK(messages.size() == kFiles + 1);
  CHECK(got.size() == kFiles + 1);
  for (const auto& [id, n] : copies) CHECK_MESSAGE(n == 1, id);
  for (const auto& id : unacknowledged()) CHECK_MESSAGE(copies.count(id) == 1, id);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: the agent killed with SIGKILL mid-burst and restarted: every operation in the stream, none twice") {
  NatsServer server;
  REQUIRE(server.started());
  REQUIRE(add_stream(server.url(), "FILES", {"files.>"}) == "");
  RunningAgent r(nats_rules("\"nats://127.0.0.1:" + std::to_string(server.port()) + "/files.{action}\"",
                            "retry = [\"200ms\", \"200ms\", \"200ms\"]\n"),
                 false);
  no_loss::start_caught_up(r);
  constexpr int kFiles = 3000;
  REQUIRE(shell("cd " + r.in + " && (for i in $(seq " + std::to_string(kFiles) +
                "); do echo $i > f$i; done) > /dev/null 2>&1 &") == 0);
  // Mid-burst: some published, some committed and in flight, some not yet seen.
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") >= 200; }, 30s));
  CHECK(r.agent->stop(SIGKILL) == 128 + SIGKILL);
  const int64_t at_kill = stream_count(server.url(), "FILES");
  REQUIRE(shell("cd " + r.in + " && while [ ! -e f" + std::to_string(kFiles) +
                " ]; do sleep 0.05; done") == 0);
  no_loss::start_caught_up(r);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(wait_until([&] { return stream_count(server.url(), "FILES") >= kFiles; }, 60s));
  // Nothing left to send: what was in flight at the kill has gone out again, same ids.
  REQUIRE(wait_until([&] { return pending_of(r) == 0; }, 30s));
  std::string error;
  const auto messages = read_stream(server.url(), "FILES", error);
  std::map<std::string, int> copies;
  const auto got = distinct_in_stream(messages, r.dir.path(), &copies);
  std::map<std::string, int> expected;
  for (int i = 1; i <= kFiles; ++i) expected["create /in/f" + std::to_string(i)] = 1;
  CHECK_MESSAGE(got == expected, no_loss::difference(got, expected));
  CHECK(messages.size() == kFiles);
  for (const auto& [id, n] : copies) CHECK_MESSAGE(n == 1, id);
  MESSAGE("in the stream at the kill: " << at_kill << " of " << kFiles);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: a NATS primary that is down and an HTTP redundant URL: delivered over HTTP") {
  const std::string down = "nats://127.0.0.1:" + std::to_string(unused_port()) + "/files.{action}";
  RunningAgent r(nats_rules("\"" + down + "\", \"{URL}\""));
  write_file(r.in + "/a.txt", "x");
  const Webhook hook = r.nth(1);
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("path") == r.in + "/a.txt");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  const auto line = no_loss::log_lines(r.agent->output(), "delivery").at(0);
  CHECK(line["url"] == r.receiver.url());
  CHECK(line["attempt"] == 1);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: every URL down through the whole schedule: a dead letter and the email") {
  SmtpServer smtp;
  REQUIRE(smtp.started());
  const std::string down = "nats://u:hidden@127.0.0.1:" + std::to_string(unused_port()) +
                           "/files.{action}";
  RunningAgent r(nats_rules("\"" + down + "\"", "retry = [\"100ms\", \"100ms\"]\n") +
                 "\n[notify]\nsmtp_url = \"" + smtp.url() + "\"\nto = [\"ops@example.com\"]\n");
  write_file(r.in + "/doomed.csv", "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"dead\"", 20s));
  const auto lines = no_loss::log_lines(r.agent->output(), "delivery");
  REQUIRE(lines.size() == 3);
  CHECK(lines[2]["outcome"] == "dead");
  CHECK(lines[2]["error"].get<std::string>().find("cannot connect to NATS") != std::string::npos);
  REQUIRE(wait_until([&] { return smtp.messages().size() == 1; }, 20s));
  const std::string mail = smtp.messages()[0];
  CHECK(mail.find("doomed.csv") != std::string::npos);
  CHECK(mail.find("files.{action}") != std::string::npos);
  // Nothing secret in the log or the email.
  CHECK(r.agent->output().find("hidden") == std::string::npos);
  CHECK(mail.find("hidden") == std::string::npos);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("nats: test-hook and status cover NATS URLs; check names a bad one's line") {
  NatsServer server;
  REQUIRE(server.started());
  REQUIRE(add_stream(server.url(), "FILES", {"files.>"}) == "");
  const std::string url = "nats://127.0.0.1:" + std::to_string(server.port()) + "/files.{action}";
  RunningAgent r(nats_rules("\"" + url + "\"", "", "", "status_listen = \"127.0.0.1:0\"\n"), false);
  std::string out;
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 0);
  CHECK(out.rfind(url + ": acknowledged in ", 0) == 0);
  CHECK(out.find(", accepted") != std::string::npos);
  std::string error;
  const auto messages = read_stream(server.url(), "FILES", error);
  REQUIRE(messages.size() == 1);
  CHECK(json::parse(messages[0].data)["test"] == "1");

  r.start();
  write_file(r.in + "/a.txt", "x");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  const json status = json::parse(out);
  REQUIRE(status["urls"].size() == 1);
  CHECK(status["urls"][0]["url"] == url);
  CHECK(status["urls"][0]["consecutive_failures"] == 0);
  CHECK(status["urls"][0]["last_success_at"].is_string());
  httplib::Client client("127.0.0.1", status_port(*r.agent));
  const auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("folderhook_attempts_total{outcome=\"delivered\"} 1\n") !=
        std::string::npos);
  CHECK(r.agent->stop(SIGTERM) == 0);

  write_file(r.dir / "bad.toml",
             "[agent]\nstate_dir = \"" + r.dir / "state2" + "\"\n[[folder]]\npath = \"" + r.in +
                 "\"\nurls = [\"nats://127.0.0.1:4222/files.*\"]\n");
  CHECK(run_folderhook({"check", "--config", r.dir / "bad.toml"}, out) == 2);
  CHECK(out.rfind(r.dir / "bad.toml" + ":5:8: folder.urls: 'nats://127.0.0.1:4222/files.*' is not "
                                       "a usable URL: NATS URL: the subject 'files.*' has a wildcard",
                  0) == 0);
}
