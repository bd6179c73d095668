// From the kernel to a receiver: real file operations in a real folder, the real binary, a real
// HTTP receiver; every parameter of every webhook checked after decoding.
#include <doctest/doctest.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <cctype>

#include <httplib.h>

#include "tests/support/agent_process.h"
#include "tests/support/running_agent.h"
#include "tests/support/receiver.h"
#include "tests/support/temp_dir.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

std::string my_username() {
  const passwd* pw = getpwuid(geteuid());
  return pw ? pw->pw_name : std::to_string(geteuid());
}

void check_at_is_now(const std::string& at) {
  // YYYY-MM-DDTHH:MM:SS+00:00, digit for digit
  const std::string shape = "dddd-dd-ddTdd:dd:dd+00:00";
  REQUIRE(at.size() == shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    CAPTURE(i);
    CHECK((shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(at[i])) != 0 : at[i] == shape[i]));
  }
  std::tm tm{};
  REQUIRE(strptime(at.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
  const std::time_t when = timegm(&tm);
  CHECK(std::abs(std::time(nullptr) - when) < 60);
}

}  // namespace

TEST_CASE("a new file reaches the receiver as create, with all its parameters") {
  RunningAgent r;
  write_file(r.in + "/a.txt", "hi\n");
  const Webhook hook = r.nth(1);
  CHECK(hook.method == "GET");
  CHECK(hook.path == "/hook");
  CHECK(hook.names() == std::vector<std::string>{"action", "interface", "path", "at", "username",
                                                 "type"});
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("interface") == "sftp");
  CHECK(hook.param("path") == r.in + "/a.txt");
  CHECK(hook.param("username") == my_username());
  CHECK(hook.param("type") == "file");
  check_at_is_now(hook.param("at"));
  CHECK_FALSE(hook.header("webhook-id").empty());
  CHECK(hook.header("user-agent").rfind("folderhook/", 0) == 0);
}

TEST_CASE("rewriting a file is update, renaming it is move, removing it is destroy") {
  RunningAgent r;
  write_file(r.in + "/a.txt", "one");
  CHECK(r.nth(1).param("action") == "create");

  write_file(r.in + "/a.txt", "two");
  CHECK(r.nth(2).param("action") == "update");
  CHECK(r.nth(2).param("path") == r.in + "/a.txt");

  REQUIRE(shell("mv " + r.in + "/a.txt " + r.in + "/b.txt") == 0);
  const Webhook move = r.nth(3);
  CHECK(move.names() == std::vector<std::string>{"action", "interface", "path", "destination",
                                                 "at", "username", "type"});
  CHECK(move.param("action") == "move");
  CHECK(move.param("path") == r.in + "/a.txt");
  CHECK(move.param("destination") == r.in + "/b.txt");

  REQUIRE(shell("rm " + r.in + "/b.txt") == 0);
  CHECK(r.nth(4).param("action") == "destroy");
  CHECK(r.nth(4).param("path") == r.in + "/b.txt");
  CHECK(r.nth(4).param("username") == my_username());  // the owner last seen
}

TEST_CASE("a new directory is create with type=directory, and files inside it are watched") {
  RunningAgent r;
  REQUIRE(shell("mkdir " + r.in + "/sub") == 0);
  const Webhook dir = r.nth(1);
  CHECK(dir.param("action") == "create");
  CHECK(dir.param("type") == "directory");
  CHECK(dir.param("path") == r.in + "/sub");

  write_file(r.in + "/sub/deep.txt", "x");
  CHECK(r.nth(2).param("path") == r.in + "/sub/deep.txt");
  CHECK(r.nth(2).param("type") == "file");
}

TEST_CASE("a file name with spaces, reserved characters, a newline and non-UTF-8 bytes arrives byte-exact") {
  RunningAgent r;
  const std::string name = "a b&c=d%e#f+g\nh\xFF\xFE.txt";
  write_file(r.in + "/" + name, "x");
  const Webhook hook = r.nth(1);
  CHECK(hook.param("path") == r.in + "/" + name);
  // Nothing in the raw query may be left unencoded but the separators.
  CHECK(hook.raw_query.find(' ') == std::string::npos);
  CHECK(hook.raw_query.find('\n') == std::string::npos);
  CHECK(hook.raw_query.find('#') == std::string::npos);
}

TEST_CASE("each delivery attempt is one JSON log line with its outcome") {
  RunningAgent r;
  write_file(r.in + "/logged.txt", "x");
  r.nth(1);
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  const std::string log = r.agent->output();
  const auto start = log.rfind('\n', log.find("\"outcome\":\"delivered\"")) + 1;
  const std::string line = log.substr(start, log.find('\n', start) - start);
  for (const char* field : {"\"ts\":", "\"level\":\"info\"", "\"msg\":\"delivery\"", "\"id\":",
                            "\"action\":\"create\"", "\"url\":", "\"attempt\":1", "\"status\":200",
                            "\"error\":\"\"", "\"ms\":"}) {
    CAPTURE(field);
    CHECK(line.find(field) != std::string::npos);
  }
  CHECK(line.find(r.in + "/logged.txt") != std::string::npos);
}

TEST_CASE("SIGTERM stops cleanly, and a refused delivery is retried after a restart with its id") {
  // The retry falls due well after the stop: only the restarted agent can send it.
  RunningAgent r(rules_template(R"(retry = ["3s"])"));
  r.receiver.set_status(503);
  write_file(r.in + "/kept.txt", "x");
  const Webhook refused = r.nth(1);
  CHECK(refused.param("path") == r.in + "/kept.txt");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"retry\""));

  CHECK(r.agent->stop(SIGTERM) == 0);
  CHECK(r.agent->output().find("\"msg\":\"stopped\"") != std::string::npos);

  r.receiver.set_status(200);
  r.start();
  REQUIRE(r.agent->wait_for_output("\"pending\":1"));
  const Webhook resent = r.nth(2);
  CHECK(resent.param("path") == r.in + "/kept.txt");
  CHECK(resent.header("webhook-id") == refused.header("webhook-id"));
  CHECK(r.agent->stop(SIGINT) == 0);
}

TEST_CASE("listen prints each webhook it receives, decoded, and answers 200") {
  TempDir dir;
  AgentProcess listen({"listen", "--port", "0"}, dir / "listen.log");
  REQUIRE(listen.wait_for_output("listening on http://127.0.0.1:"));
  const std::string out = listen.output();
  const int port = std::stoi(out.substr(out.find("127.0.0.1:") + 10));
  httplib::Client client("127.0.0.1", port);
  const auto res = client.Get("/hook?action=create&path=%2Fa%20b%0A.txt&type=file");
  REQUIRE(res);
  CHECK(res->status == 200);
  REQUIRE(listen.wait_for_output("action=create"));
  CHECK(listen.output().find("GET /hook action=create path=\"/a b\\n.txt\" type=file\n") !=
        std::string::npos);
  CHECK(listen.stop(SIGTERM) == 0);
}

TEST_CASE("operations in quick succession reach the receiver in the order they happened") {
  RunningAgent r;
  REQUIRE(shell("cd " + r.in + " && mkdir d && echo x > d/a && mv d/a d/b && mv d e && rm e/b") == 0);
  r.nth(5);
  std::vector<std::string> seen;
  for (const Webhook& hook : r.receiver.received()) {
    std::string line = hook.param("action") + " " + hook.param("path").substr(r.in.size());
    if (hook.has("destination")) line += " " + hook.param("destination").substr(r.in.size());
    seen.push_back(line);
  }
  CHECK(seen == std::vector<std::string>{"create /d", "create /d/a", "move /d/a /d/b",
                                         "move /d /e", "destroy /e/b"});
}
