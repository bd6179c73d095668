// What an operator configures in rules.toml, observed from a real receiver: request forms,
// headers and signatures, root, nested folders, filters, live reload, the status endpoint.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <set>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"
#include "tests/support/verifier.h"

using namespace folderhook::test;
using nlohmann::json;

namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string verify(const Webhook& hook, const std::string& form, const TempDir& dir) {
  return standardwebhooks_verdict(hook, kSecret, form, dir);
}

}  // namespace

TEST_CASE("POST sends the fields as a JSON object with the folder's headers") {
  RunningAgent r(rules_template("", "method = \"POST\"\nheaders = { Authorization = \"Bearer abc\", X-Tenant = \"t1\" }\n"));
  write_file(r.in + "/a.txt", "x");
  const Webhook hook = r.nth(1);
  CHECK(hook.method == "POST");
  CHECK(hook.raw_query.empty());
  CHECK(hook.header("content-type") == "application/json");
  CHECK(hook.header("authorization") == "Bearer abc");
  CHECK(hook.header("x-tenant") == "t1");
  const json body = json::parse(hook.body);
  CHECK(body["action"] == "create");
  CHECK(body["interface"] == "sftp");
  CHECK(body["path"] == r.in + "/a.txt");
  CHECK(body["type"] == "file");
  CHECK_FALSE(body.contains("destination"));
  CHECK(body.size() == 6);
}

TEST_CASE("a POST signature verifies with the standardwebhooks package") {
  RunningAgent r(rules_template("", "method = \"POST\"\nsecret = \"" + std::string(kSecret) + "\"\n"));
  write_file(r.in + "/signed.txt", "x");
  const Webhook hook = r.nth(1);
  CHECK(hook.header("webhook-signature").rfind("v1,", 0) == 0);
  CHECK(verify(hook, "post", r.dir) == "verified\n");

  Webhook tampered = hook;
  tampered.body.replace(tampered.body.find("signed.txt"), 10, "forged.txt");
  CHECK(verify(tampered, "post", r.dir).rfind("refused", 0) == 0);
}

TEST_CASE("a GET signature covers the exact query string") {
  RunningAgent r(rules_template("", "secret = \"" + std::string(kSecret) + "\"\n"));
  write_file(r.in + "/odd name&=.txt", "x");
  const Webhook hook = r.nth(1);
  CHECK(verify(hook, "get", r.dir) == "verified\n");
  Webhook tampered = hook;
  tampered.raw_query += "&x=1";
  CHECK(verify(tampered, "get", r.dir).rfind("refused", 0) == 0);
}

TEST_CASE("with agent.root, paths are reported relative to it with a leading slash") {
  RunningAgent r(rules_template("", "", "root = \"{DIR}\"\n"));
  REQUIRE(shell("mkdir " + r.in + "/sub") == 0);
  CHECK(r.nth(1).param("path") == "/in/sub");
  REQUIRE(shell("mv " + r.in + "/sub " + r.in + "/renamed") == 0);
  CHECK(r.nth(2).param("path") == "/in/sub");
  CHECK(r.nth(2).param("destination") == "/in/renamed");
}

TEST_CASE("types, sizes, users and interfaces filter what a folder reports") {
  RunningAgent r(rules_template("",
                                "types = [\"file\"]\nmin_size = \"10B\"\nmax_size = \"1KiB\"\n"
                                "users = [\"root\"]\ninterfaces = [\"sftp\"]\n"));
  REQUIRE(shell("cd " + r.in + " && mkdir d && printf x > small && head -c 2048 /dev/zero > big"
                " && printf 0123456789ab > medium && rm small") == 0);
  // In the order they happened: once the destroy is in, nothing filtered out came before it.
  REQUIRE(r.receiver.wait_for(2));
  const auto hooks = r.receiver.received();
  REQUIRE(hooks.size() == 2);
  CHECK(hooks[0].param("action") == "create");
  CHECK(hooks[0].param("path") == r.in + "/medium");
  CHECK(hooks[1].param("action") == "destroy");  // never filtered out by its size
  CHECK(hooks[1].param("path") == r.in + "/small");
}

TEST_CASE("a folder whose users or interfaces are not the reported ones gets nothing") {
  RunningAgent r(rules_template("", "users = [\"nobody-in-particular\"]\n") +
                     "\n[[folder]]\npath = \"{IN}/sub\"\nurls = [\"{URL}\"]\ninterface = \"ftp\"\n"
                     "interfaces = [\"sftp\", \"dav\"]\n" +
                     "\n[[folder]]\npath = \"{IN}/sub/marker\"\nurls = [\"{URL}\"]\n",
                 false);
  REQUIRE(shell("mkdir -p " + r.in + "/sub/marker") == 0);
  r.start();
  REQUIRE(shell("cd " + r.in + " && printf x > a && printf x > sub/b && printf x > sub/marker/c") ==
          0);
  // The outer folders filter out a and b (and c); the innermost reports c, after them.
  REQUIRE(r.receiver.wait_for(1));
  const auto hooks = r.receiver.received();
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0].param("path") == r.in + "/sub/marker/c");
  CHECK(hooks[0].param("interface") == "web");
}

TEST_CASE("nested folders each get their own delivery") {
  RunningAgent r(rules_template() + "\n[[folder]]\npath = \"{IN}/inner\"\nurls = [\"{URL}inner\"]\n"
                                    "interface = \"dav\"\n",
                 /*start_now=*/false);
  REQUIRE(shell("mkdir " + r.in + "/inner") == 0);
  r.start();
  write_file(r.in + "/inner/x.txt", "x");
  r.nth(2);
  std::map<std::string, std::string> by_path;
  for (const Webhook& hook : r.receiver.received()) by_path[hook.path] = hook.param("interface");
  CHECK(by_path == std::map<std::string, std::string>{{"/hook", "sftp"}, {"/hookinner", "dav"}});
  CHECK(r.receiver.received()[0].param("path") == r.in + "/inner/x.txt");
}

TEST_CASE("include, exclude and actions filter what a folder reports") {
  RunningAgent r(rules_template(
      "", "include = [\"**/*.csv\"]\nexclude = [\"**/skip*\"]\nactions = [\"create\", \"destroy\"]\n"));
  write_file(r.in + "/a.txt", "x");
  write_file(r.in + "/skip.csv", "x");
  write_file(r.in + "/b.csv", "x");
  CHECK(r.nth(1).param("path") == r.in + "/b.csv");
  write_file(r.in + "/b.csv", "changed");  // an update: not in actions
  REQUIRE(shell("rm " + r.in + "/b.csv") == 0);
  CHECK(r.nth(2).param("action") == "destroy");
  CHECK(r.receiver.count() == 2);
}

TEST_CASE("an edit of the rules file takes effect without a restart") {
  RunningAgent r;
  write_file(r.in + "/before.txt", "x");
  CHECK(r.nth(1).param("interface") == "sftp");

  std::string rules = rules_template();
  rules.replace(rules.find("interface = \"sftp\""), 18, "interface = \"ftp\"");
  r.write_rules(rules);
  REQUIRE(r.agent->wait_for_output("\"msg\":\"rules reloaded\""));
  write_file(r.in + "/after.txt", "x");
  CHECK(r.nth(2).param("interface") == "ftp");
}

TEST_CASE("an invalid rules file is logged with its place and the old rules stay") {
  RunningAgent r;
  r.write_rules(rules_template() + "bogus = 1\n");
  REQUIRE(kill(r.agent->pid(), SIGHUP) == 0);
  REQUIRE(r.agent->wait_for_output("rules not reloaded"));
  CHECK(r.agent->output().find("rules.toml:11:1: unknown key 'bogus' in [[folder]]") !=
        std::string::npos);
  write_file(r.in + "/still.txt", "x");
  CHECK(r.nth(1).param("interface") == "sftp");
  CHECK(r.agent->running());
}

TEST_CASE("a reload in the middle of a burst neither loses nor repeats an operation") {
  RunningAgent r;
  constexpr int kFiles = 60;
  for (int i = 0; i < kFiles; ++i) {
    write_file(r.in + "/f" + std::to_string(i), "x");
    if (i == kFiles / 2) REQUIRE(kill(r.agent->pid(), SIGHUP) == 0);
  }
  r.nth(kFiles);
  REQUIRE(r.agent->wait_for_output("\"msg\":\"rules reloaded\""));
  std::multiset<std::string> paths;
  for (const Webhook& hook : r.receiver.received()) paths.insert(hook.param("path"));
  for (int i = 0; i < kFiles; ++i) CHECK(paths.count(r.in + "/f" + std::to_string(i)) == 1);
  CHECK(paths.size() == kFiles);
}

TEST_CASE("the status endpoint answers /healthz and Prometheus /metrics") {
  RunningAgent r(rules_template("", "", "status_listen = \"127.0.0.1:0\"\n"));
  write_file(r.in + "/counted.txt", "x");
  r.nth(1);
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  httplib::Client client("127.0.0.1", status_port(*r.agent));
  const auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);

  const auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  // Parse every sample line into name{labels} -> value.
  std::map<std::string, double> samples;
  std::istringstream lines(metrics->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  CHECK(samples["folderhook_operations_total{action=\"create\"}"] == 1);
  CHECK(samples["folderhook_attempts_total{outcome=\"delivered\"}"] == 1);
  CHECK(samples["folderhook_attempt_duration_seconds_count"] == 1);
  CHECK(samples.count("folderhook_pending") == 1);
  CHECK(samples.count("folderhook_dead_letters") == 1);
  CHECK(samples.count("folderhook_oldest_pending_age_seconds") == 1);
  CHECK(samples["folderhook_watches"] >= 1);
  CHECK(samples.count("folderhook_queue_overflows_total") == 1);
}

TEST_CASE("with file_field, a POST carries the file's bytes, or says why it does not") {
  RunningAgent r(rules_template("", "method = \"POST\"\nfile_field = \"upload\"\nmax_file_bytes = \"16B\"\n"));
  write_file(r.in + "/small.bin", std::string("bytes\0and\xFF", 10));
  Webhook small = r.nth(1);
  CHECK(small.header("content-type").rfind("multipart/form-data; boundary=folderhook-", 0) == 0);
  using Part = std::pair<std::string, std::string>;  // filename, bytes
  CHECK(small.parts["action"] == Part{"", "create"});
  CHECK(small.parts["interface"] == Part{"", "sftp"});
  CHECK(small.parts["path"] == Part{"", r.in + "/small.bin"});
  CHECK(small.parts["type"] == Part{"", "file"});
  CHECK(small.parts["upload"] == Part{"small.bin", std::string("bytes\0and\xFF", 10)});
  CHECK(small.parts.count("file_skipped") == 0);

  write_file(r.in + "/big.bin", std::string(17, 'x'));
  Webhook big = r.nth(2);
  CHECK(big.parts.count("upload") == 0);
  CHECK(big.parts["file_skipped"].second == "the file has 17 bytes, more than max_file_bytes (16)");
  REQUIRE(shell("rm " + r.in + "/small.bin") == 0);
  Webhook gone = r.nth(3);
  CHECK(gone.parts["action"].second == "destroy");
  CHECK(gone.parts["file_skipped"].second == "destroyed: there is no content");
}
