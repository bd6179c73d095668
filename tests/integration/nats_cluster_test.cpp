// A three-node JetStream cluster on loopback with a stream of three replicas: one node killed
// with SIGKILL in the middle of a burst and brought back; the agent, connected to all three,
// gets every operation into the stream exactly once.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/integration/no_loss.h"
#include "tests/support/nats_server.h"
#include "tests/support/running_agent.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

int64_t pending_in(RunningAgent& r) {
  std::string out;
  if (run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) != 0) return -1;
  return nlohmann::json::parse(out, nullptr, false).value("pending", int64_t{-1});
}

}  // namespace

TEST_CASE("nats cluster: a node killed mid-burst of 20,000 and brought back: every operation in the R3 stream exactly once") {
  NatsCluster cluster;
  REQUIRE(cluster.started());
  const std::string servers = "nats://" + cluster.servers();
  REQUIRE(add_stream(servers, "FILES", {"files.>"}, /*replicas=*/3) == "");
  std::string rules = rules_template(
      "timeout = \"2s\"\nretry = [" + [] {
        std::string waits;
        for (int i = 0; i < 40; ++i) waits += std::string(i ? ", " : "") + "\"500ms\"";
        return waits;
      }() + "]\n");
  const std::string from = "urls = [\"{URL}\"]";
  rules.replace(rules.find(from), from.size(), "urls = [\"" + servers + "/files.{action}\"]");
  RunningAgent r(rules, false);
  no_loss::start_caught_up(r);

  constexpr int kFiles = 20'000;
  REQUIRE(shell("cd " + r.in + " && (for i in $(seq " + std::to_string(kFiles) +
                "); do echo $i > f$i; done) > /dev/null 2>&1 &") == 0);
  INFO("agent log (tail):\n" << [&] {
    const std::string out = r.agent->output();
    return out.size() > 4000 ? out.substr(out.size() - 4000) : out;
  }());
  // Mid-burst: the first server of the list (the one the agent publishes through) dies.
  REQUIRE(wait_until([&] { return stream_count(servers, "FILES") >= 2'000; }, 60s));
  cluster.node(0).stop(SIGKILL);
  const int64_t at_kill = stream_count(servers, "FILES");
  // The other two keep the stream's quorum: publishing goes on without node 0.
  REQUIRE(wait_until([&] { return stream_count(servers, "FILES") >= at_kill + 2'000; }, 60s));
  REQUIRE(cluster.node(0).start());
  REQUIRE(wait_until([&] { return stream_count(servers, "FILES") >= kFiles; }, 120s));
  REQUIRE(wait_until([&] { return pending_in(r) == 0; }, 60s));

  std::string error;
  const auto messages = read_stream(servers, "FILES", error);
  REQUIRE_MESSAGE(error.empty(), error);
  std::set<std::string> ids;
  std::map<std::string, int> got;
  for (const auto& m : messages) {
    CHECK_MESSAGE(ids.insert(m.headers.at("Nats-Msg-Id")).second, m.headers.at("Nats-Msg-Id"));
    const auto body = nlohmann::json::parse(m.data);
    ++got[body.value("action", "") + " " + body.value("path", "").substr(r.dir.path().size())];
  }
  std::map<std::string, int> expected;
  for (int i = 1; i <= kFiles; ++i) expected["create /in/f" + std::to_string(i)] = 1;
  CHECK_MESSAGE(got == expected, no_loss::difference(got, expected));
  CHECK(messages.size() == kFiles);
  size_t retries = 0;
  for (const auto& line : no_loss::log_lines(r.agent->output(), "delivery")) {
    retries += line.value("outcome", "") == "retry";
  }
  MESSAGE("in the stream when node 0 was killed: " << at_kill << " of " << kFiles
                                                   << "; attempts failed and retried: " << retries);
  CHECK(r.agent->stop(SIGTERM) == 0);
}
