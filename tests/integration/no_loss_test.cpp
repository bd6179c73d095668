// Never lose an operation: the real binary stopped (SIGTERM) or killed (SIGKILL in the middle
// of a burst) while every kind of change is made, then started again; and a kernel queue made
// to overflow. Each expected action must reach the receiver exactly once (deliveries are at
// least once: duplicates of one webhook-id count once), and nothing else may.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"
#include "tests/support/temp_dir.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

// "create /in/a", "move /in/a -> /in/b": paths relative to the temporary directory.
std::string describe(const Webhook& hook, const std::string& base) {
  const auto rel = [&](std::string path) {
    return path.rfind(base, 0) == 0 ? path.substr(base.size()) : path;
  };
  std::string out = hook.param("action") + " " + rel(hook.param("path"));
  if (hook.has("destination")) out += " -> " + rel(hook.param("destination"));
  return out;
}

// Each distinct delivery once (by webhook-id), counted by what it says.
std::map<std::string, int> distinct(const Receiver& receiver, const std::string& base) {
  std::set<std::string> ids;
  std::map<std::string, int> out;
  for (const Webhook& hook : receiver.received()) {
    if (!ids.insert(hook.header("webhook-id")).second) continue;
    ++out[describe(hook, base)];
  }
  return out;
}

// Waits until `done` holds for the distinct deliveries, or the deadline passes.
template <typename Done>
std::map<std::string, int> wait_distinct(const RunningAgent& r, Done done,
                                         std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto got = distinct(r.receiver, r.dir.path());
  while (!done(got) && std::chrono::steady_clock::now() < deadline) {
    r.receiver.wait_for(r.receiver.count() + 1, 500ms);
    got = distinct(r.receiver, r.dir.path());
  }
  return got;
}

std::vector<nlohmann::json> log_lines(const std::string& output, const std::string& msg) {
  std::vector<nlohmann::json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("msg", "") == msg) out.push_back(json);
  }
  return out;
}

// A live operation after everything else: once it arrives, the catch-up (submitted before any
// live action) has been committed, and its first attempts started before this one's.
void sentinel(RunningAgent& r) {
  write_file(r.in + "/sentinel", "s");
  const auto got = wait_distinct(r, [](const auto& g) { return g.count("create /in/sentinel"); });
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(got.count("create /in/sentinel"));
}

// Several connections: these tests count deliveries, not their order.
const std::string kDelivery = "retry = [\"200ms\", \"400ms\"]\nconnections = 8\n";
// The catch-up is the inotify backend's (auto would pick fanotify when it can).
const std::string kRules = rules_template(kDelivery, "", "backend = \"inotify\"\n");

// Lowers fs.inotify.max_queued_events and always puts the old value back. The kernel reads it
// when an inotify instance is created, so it is held only until the agent is watching.
class QueueLimit {
 public:
  explicit QueueLimit(int events) {
    std::ifstream in(kPath);
    in >> saved_;
    REQUIRE(saved_ > 0);
    write(events);
  }
  ~QueueLimit() { restore(); }
  QueueLimit(const QueueLimit&) = delete;
  QueueLimit& operator=(const QueueLimit&) = delete;
  void restore() {
    if (saved_ > 0) write(saved_);
    saved_ = 0;
  }

 private:
  static void write(int value) {
    std::ofstream out(kPath);
    out << value << "\n";
  }
  static constexpr const char* kPath = "/proc/sys/fs/inotify/max_queued_events";
  int saved_ = 0;
};

}  // namespace

TEST_CASE("changes made while the agent was stopped are reported at start, once each") {
  RunningAgent r(kRules, false);
  REQUIRE(shell("cd " + r.in + " && printf a > old.txt && printf g > gone.txt && mkdir keep "
                "dirA tree tree/sub rmd && printf m > keep/mod.txt && printf x > dirA/x && "
                "printf y > tree/sub/y && printf f > rmd/f") == 0);
  r.start();
  // A first start only builds the index: nothing that already existed is news.
  CHECK(log_lines(r.agent->output(), "catch-up done").at(0)["reported"] == 0);
  REQUIRE(r.agent->stop(SIGTERM) == 0);

  REQUIRE(shell("cd " + r.in + " && printf n > new.txt && printf more >> keep/mod.txt && "
                "rm gone.txt && mv old.txt renamed.txt && mv dirA dirB && mv tree keep/tree && "
                "rm -rf rmd && mkdir -p fresh/deep && printf f > fresh/deep/f") == 0);
  r.start();
  sentinel(r);
  const std::map<std::string, int> expected = {
      {"create /in/new.txt", 1},       {"update /in/keep/mod.txt", 1},
      {"destroy /in/gone.txt", 1},     {"move /in/old.txt -> /in/renamed.txt", 1},
      {"move /in/dirA -> /in/dirB", 1}, {"move /in/tree -> /in/keep/tree", 1},
      {"destroy /in/rmd/f", 1},        {"destroy /in/rmd", 1},
      {"create /in/fresh", 1},         {"create /in/fresh/deep", 1},
      {"create /in/fresh/deep/f", 1},  {"create /in/sentinel", 1}};
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  INFO("agent log:\n" << r.agent->output());
  CHECK(got == expected);
  const auto done = log_lines(r.agent->output(), "catch-up done");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["reported"] == expected.size() - 1);

  // The log says catch_up. (The order, parents first and deepest first, is the diff's, tested in
  // tests/watch/index_test.cpp: parallel first senders may reorder arrivals slightly.)
  int catch_up_lines = 0;
  for (const auto& line : log_lines(r.agent->output(), "delivery")) {
    const bool is_sentinel = line.value("path", "") == r.in + "/sentinel";
    CHECK(line.value("catch_up", is_sentinel) == !is_sentinel);
    catch_up_lines += line.value("catch_up", false) ? 1 : 0;
  }
  CHECK(catch_up_lines >= 11);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("killed with SIGKILL in the middle of a burst, nothing is lost or repeated") {
  RunningAgent r(kRules, false);
  REQUIRE(shell("cd " + r.in + " && printf p > p1 && mkdir pd && printf q > pd/q") == 0);
  r.start();
  constexpr int kFiles = 300;
  REQUIRE(shell("cd " + r.in + " && (for i in $(seq " + std::to_string(kFiles) +
                "); do echo $i > f$i; done) > /dev/null 2>&1 &") == 0);
  // Mid-burst: some deliveries are out, others committed and not sent, others not committed.
  REQUIRE(r.receiver.wait_for(20, 20s));
  CHECK(r.agent->stop(SIGKILL) == 128 + SIGKILL);
  // The burst goes on while nothing watches; then more changes.
  REQUIRE(shell("cd " + r.in + " && while [ ! -e f" + std::to_string(kFiles) +
                " ]; do sleep 0.05; done") == 0);
  REQUIRE(shell("cd " + r.in + " && rm p1 && mv pd pe && printf z > z") == 0);

  r.start();
  sentinel(r);
  std::map<std::string, int> expected = {{"destroy /in/p1", 1},
                                         {"move /in/pd -> /in/pe", 1},
                                         {"create /in/z", 1},
                                         {"create /in/sentinel", 1}};
  for (int i = 1; i <= kFiles; ++i) expected["create /in/f" + std::to_string(i)] = 1;
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  INFO("agent log:\n" << r.agent->output());
  CHECK(got == expected);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("a burst far larger than the kernel queue is reported exactly once, by a rescan") {
  std::optional<RunningAgent> r;
  {
    QueueLimit limit(64);
    r.emplace(kRules);  // its inotify instance gets a 64-event queue
  }  // restored at once: only the agent's instance keeps the small queue
  constexpr int kDirs = 20;
  constexpr int kPerDir = 100;
  REQUIRE(shell("cd " + r->in + " && for d in $(seq " + std::to_string(kDirs) +
                "); do mkdir d$d; for i in $(seq " + std::to_string(kPerDir) +
                "); do echo $i > d$d/f$i; done; done") == 0);
  std::map<std::string, int> expected;
  for (int d = 1; d <= kDirs; ++d) {
    const std::string dir = "/in/d" + std::to_string(d);
    expected["create " + dir] = 1;
    for (int i = 1; i <= kPerDir; ++i) expected["create " + dir + "/f" + std::to_string(i)] = 1;
  }
  auto got = wait_distinct(*r, [&](const auto& g) { return g.size() >= expected.size(); }, 60s);
  sentinel(*r);
  expected["create /in/sentinel"] = 1;
  got = distinct(r->receiver, r->dir.path());
  INFO("agent log:\n" << r->agent->output());
  CHECK(got == expected);
  CHECK_FALSE(log_lines(r->agent->output(), "rescan done").empty());
  const auto overflowed = log_lines(r->agent->output(), "inotify queue overflowed: operations were "
                                                        "lost (raise fs.inotify.max_queued_events); "
                                                        "a rescan is needed to name them");
  CHECK_FALSE(overflowed.empty());
  CHECK(r->agent->stop(SIGTERM) == 0);
}

TEST_CASE("initial_scan = report: a first start reports what is already there as created") {
  RunningAgent r(rules_template(kDelivery, "",
                                "backend = \"inotify\"\ninitial_scan = \"report\"\n"),
                 false);
  REQUIRE(shell("cd " + r.in + " && mkdir d && printf a > d/a && printf b > b") == 0);
  r.start();
  sentinel(r);
  const std::map<std::string, int> expected = {{"create /in/d", 1},
                                               {"create /in/d/a", 1},
                                               {"create /in/b", 1},
                                               {"create /in/sentinel", 1}};
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  INFO("agent log:\n" << r.agent->output());
  CHECK(got == expected);
  // Indexed now: a second start has nothing to report.
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  r.start();
  CHECK(log_lines(r.agent->output(), "catch-up done").at(0)["reported"] == 0);
  CHECK(r.agent->stop(SIGTERM) == 0);
}
