// Readiness (/readyz), the figures behind it in /metrics, and `status` naming the agent that
// runs on a state_dir.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"
#include "tests/support/tmpfs.h"
#include "tests/support/wait.h"

namespace folderhook::test {
namespace {

// A port free a moment ago: /readyz must be asked before the `watching` line names the port.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Answer {
  int status = 0;  // 0: no answer (not listening yet)
  std::string body;
};

Answer get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(2));
  const auto res = client.Get(path);
  if (!res) return {};
  return {res->status, res->body};
}

std::map<std::string, double> samples_of(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

}  // namespace

TEST_CASE("/readyz is 503 while the start walk adds watches, and 200 once the agent is watching") {
  const int port = free_port();
  // inotify: `watching` comes after the walk, and 20,000 directories keep it busy a while.
  RunningAgent r(rules_template("", "",
                                "backend = \"inotify\"\nstatus_listen = \"127.0.0.1:" +
                                    std::to_string(port) + "\"\n"),
                 false);
  REQUIRE(shell("cd " + r.in + " && seq 1 20000 | sed 's|^|d|' | xargs mkdir") == 0);
  // Not r.start(), which waits for `watching`.
  r.agent = std::make_unique<AgentProcess>(
      std::vector<std::string>{"run", "--config", r.dir / "rules.toml"}, r.dir / "agent.log");
  Answer first;
  REQUIRE(wait_until([&] { return (first = get(port, "/readyz")).status != 0; }));
  INFO("agent log:\n" << r.agent->output());
  CHECK(first.status == 503);
  CHECK(first.body.find("starting: not watching yet") != std::string::npos);
  // Alive all along.
  CHECK(get(port, "/healthz").status == 200);

  REQUIRE(r.agent->wait_for_output("\"msg\":\"watching\"", std::chrono::seconds(60)));
  const Answer ready = get(port, "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready\n");
}

TEST_CASE("/readyz is 503 with the reason while a configured folder does not exist") {
  RunningAgent r(rules_template("", "", "status_listen = \"127.0.0.1:0\"\n") +
                     "\n[[folder]]\npath = \"{DIR}/later\"\nurls = [\"{URL}\"]\n",
                 false);
  r.start();
  REQUIRE(r.agent->wait_for_output("\"msg\":\"watching\""));
  const int port = status_port(*r.agent);
  const Answer missing = get(port, "/readyz");
  CHECK(missing.status == 503);
  CHECK(missing.body == "1 watched folder(s) do not exist (see the log)\n");
  CHECK(samples_of(get(port, "/metrics").body)["folderhook_missing_folders"] == 1);
  CHECK(get(port, "/healthz").status == 200);

  REQUIRE(shell("mkdir " + r.dir / "later") == 0);
  Answer ready;
  CHECK(wait_until([&] { return (ready = get(port, "/readyz")).status == 200; }));
  CHECK(ready.body == "ready\n");
}

TEST_CASE("/readyz is 503 while the outbox cannot be written, and nothing held is lost") {
  RunningAgent r(rules_template("", "", "status_listen = \"127.0.0.1:0\"\n"), false);
  // The state_dir on a 4 MiB file system that the test fills once the agent has started.
  REQUIRE(shell("mkdir -m 700 " + r.dir / "state") == 0);
  Tmpfs small(r.dir / "state", "size=4m,mode=0700");
  if (!small.why().empty()) {
    MESSAGE("SKIPPED: " << small.why());
    return;
  }
  r.start();
  const int port = status_port(*r.agent);
  REQUIRE(get(port, "/readyz").status == 200);
  // dd ends with "No space left on device": every block of the file system is the filler's.
  shell("dd if=/dev/zero of=" + r.dir / "state/filler" + " bs=64k 2>/dev/null");

  constexpr int kFiles = 300;
  for (int i = 0; i < kFiles; ++i) write_file(r.in + "/f" + std::to_string(i), "x");
  Answer full;
  const bool refused = wait_until([&] {
    full = get(port, "/readyz");
    return full.status == 503;
  });
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(refused);
  CHECK(full.body.find("outbox cannot be written (disk full?): ") == 0);
  CHECK(samples_of(get(port, "/metrics").body)["folderhook_held_in_memory"] > 0);
  CHECK(get(port, "/healthz").status == 200);

  // Room again: what was held is committed and delivered, every file once.
  REQUIRE(shell("rm " + r.dir / "state/filler") == 0);
  CHECK(wait_until([&] { return get(port, "/readyz").status == 200; }, std::chrono::seconds(30)));
  REQUIRE(r.receiver.wait_for(kFiles, std::chrono::seconds(60)));
  std::map<std::string, int> seen;
  for (const Webhook& hook : r.receiver.received()) ++seen[hook.param("path")];
  CHECK(seen.size() == kFiles);
  for (const auto& [path, times] : seen) {
    CAPTURE(path);
    CHECK(times == 1);
  }
  CHECK(samples_of(get(port, "/metrics").body)["folderhook_held_in_memory"] == 0);
}

TEST_CASE("/metrics has the requests held in memory and the actors gone") {
  RunningAgent r(rules_template("", "", "status_listen = \"127.0.0.1:0\"\n"));
  REQUIRE(r.agent->wait_for_output("\"msg\":\"watching\""));
  const auto samples = samples_of(get(status_port(*r.agent), "/metrics").body);
  REQUIRE(samples.count("folderhook_held_in_memory") == 1);
  CHECK(samples.at("folderhook_held_in_memory") == 0);
  CHECK(samples.count("folderhook_actor_gone_total") == 1);
  CHECK(samples.count("folderhook_missing_folders") == 1);
}

TEST_CASE("fanotify: a writer gone before its lookup is counted, and logged only when reported") {
  RunningAgent r(rules_template("", "include = [\"kept-*\"]\n",
                                "backend = \"fanotify\"\nstatus_listen = \"127.0.0.1:0\"\n"),
                 false);
  r.start();
  const int port = status_port(*r.agent);
  // Every writer has exited (and been reaped) before the agent, stopped meanwhile, reads its
  // events: one write filtered out by `include`, one reported.
  REQUIRE(::kill(r.agent->pid(), SIGSTOP) == 0);
  const int wrote = shell("sh -c 'echo x > " + r.in + "/skipped-1' && sh -c 'echo x > " + r.in +
                          "/kept-1'");
  REQUIRE(::kill(r.agent->pid(), SIGCONT) == 0);
  REQUIRE(wrote == 0);
  const Webhook kept = r.nth(1);
  CHECK(kept.param("path") == r.in + "/kept-1");

  INFO("agent log:\n" << r.agent->output());
  // The figures reach /metrics with the agent's next heartbeat (once a second).
  CHECK(wait_until([&] {
    return samples_of(get(port, "/metrics").body)["folderhook_actor_gone_total"] >= 2;
  }));
  int info_lines = 0;
  std::istringstream log(r.agent->output());
  for (std::string line; std::getline(log, line);) {
    if (line.find("the process behind an event was gone") == std::string::npos ||
        line.find("\"level\":\"info\"") == std::string::npos) {
      continue;  // the debug line of each lookup is not the question
    }
    CHECK(line.find("skipped-1") == std::string::npos);
    if (line.find("kept-1") != std::string::npos) ++info_lines;
  }
  CHECK(info_lines >= 1);
}

TEST_CASE("status says whether an agent runs on the state_dir, with its pid") {
  RunningAgent r;
  REQUIRE(r.agent->wait_for_output("\"msg\":\"watching\""));
  std::string out;
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml"}, out) == 0);
  CHECK(out.find("agent:          running (pid " + std::to_string(r.agent->pid()) + ")\n") !=
        std::string::npos);
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  const auto json = nlohmann::json::parse(out);
  CHECK(json["agent"]["running"] == true);
  CHECK(json["agent"]["pid"] == r.agent->pid());

  REQUIRE(r.agent->stop(SIGTERM) == 0);
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml"}, out) == 0);
  CHECK(out.find("agent:          not running\n") != std::string::npos);
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  CHECK(nlohmann::json::parse(out)["agent"]["running"] == false);
}

}  // namespace folderhook::test
