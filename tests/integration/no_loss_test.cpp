// Never lose an operation: the real binary stopped (SIGTERM) or killed (SIGKILL in the middle
// of a burst) while every kind of change is made, then started again; and a kernel queue made
// to overflow. Each expected action must reach the receiver exactly once (deliveries are at
// least once: duplicates of one webhook-id count once), and nothing else may.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/no_loss.h"
#include "tests/support/running_agent.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using namespace folderhook::test::no_loss;
using namespace std::chrono_literals;

void stopped_changes(const std::string& backend) {
  if (!backend_here(backend)) return;
  RunningAgent r(rules_for(backend), false);
  REQUIRE(shell("cd " + r.in + " && printf a > old.txt && printf g > gone.txt && mkdir keep "
                "dirA tree tree/sub rmd && printf m > keep/mod.txt && printf x > dirA/x && "
                "printf y > tree/sub/y && printf f > rmd/f") == 0);
  start_caught_up(r);
  // A first start only builds the index: nothing that already existed is news.
  CHECK(log_lines(r.agent->output(), "catch-up done").at(0)["reported"] == 0);
  REQUIRE(r.agent->stop(SIGTERM) == 0);

  REQUIRE(shell("cd " + r.in + " && printf n > new.txt && printf more >> keep/mod.txt && "
                "rm gone.txt && mv old.txt renamed.txt && mv dirA dirB && mv tree keep/tree && "
                "rm -rf rmd && mkdir -p fresh/deep && printf f > fresh/deep/f") == 0);
  start_caught_up(r);
  sentinel(r);
  const std::map<std::string, int> expected = {
      {"create /in/new.txt", 1},       {"update /in/keep/mod.txt", 1},
      {"destroy /in/gone.txt", 1},     {"move /in/old.txt -> /in/renamed.txt", 1},
      {"move /in/dirA -> /in/dirB", 1}, {"move /in/tree -> /in/keep/tree", 1},
      {"destroy /in/rmd/f", 1},        {"destroy /in/rmd", 1},
      {"create /in/fresh", 1},         {"create /in/fresh/deep", 1},
      {"create /in/fresh/deep/f", 1},  {"create /in/sentinel", 1}};
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  // The receiver may hold every request before the agent has logged each delivery.
  CHECK(wait_until([&] {
    return log_lines(r.agent->output(), "delivery").size() >= expected.size();
  }));
  INFO("agent log:\n" << r.agent->output());
  CHECK_MESSAGE(got == expected, difference(got, expected));
  const auto done = log_lines(r.agent->output(), "catch-up done");
  REQUIRE(done.size() == 1);
  CHECK(done[0]["reported"] == expected.size() - 1);

  // The log says catch_up. (The order, parents first and deepest first, is the diff's, tested in
  // tests/watch/index_test.cpp: parallel first senders may reorder arrivals slightly.) A line is
  // written once the receiver has answered: wait for all of them.
  REQUIRE(wait_until([&] {
    return log_lines(r.agent->output(), "delivery").size() >= expected.size();
  }));
  int catch_up_lines = 0;
  for (const auto& line : log_lines(r.agent->output(), "delivery")) {
    const bool is_sentinel = line.value("path", "") == r.in + "/sentinel";
    CHECK(line.value("catch_up", is_sentinel) == !is_sentinel);
    catch_up_lines += line.value("catch_up", false) ? 1 : 0;
  }
  CHECK(catch_up_lines >= 11);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

void killed_mid_burst(const std::string& backend) {
  if (!backend_here(backend)) return;
  RunningAgent r(rules_for(backend), false);
  REQUIRE(shell("cd " + r.in + " && printf p > p1 && mkdir pd && printf q > pd/q") == 0);
  start_caught_up(r);
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

  start_caught_up(r);
  sentinel(r);
  std::map<std::string, int> expected = {{"destroy /in/p1", 1},
                                         {"move /in/pd -> /in/pe", 1},
                                         {"create /in/z", 1},
                                         {"create /in/sentinel", 1}};
  for (int i = 1; i <= kFiles; ++i) expected["create /in/f" + std::to_string(i)] = 1;
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  INFO("agent log:\n" << r.agent->output());
  CHECK_MESSAGE(got == expected, difference(got, expected));
  CHECK(r.agent->stop(SIGTERM) == 0);
}

void overflow_burst(const std::string& backend) {
  if (!backend_here(backend)) return;
  std::optional<RunningAgent> r;
  {
    QueueLimit limit(backend, 64);
    r.emplace(rules_for(backend));  // its kernel instance gets a 64-event queue
  }  // restored at once: only the agent's instance keeps the small queue
  constexpr int kDirs = 20;
  constexpr int kPerDir = 100;
  const auto burst = [&](int from, int to, bool mkdirs) {
    return shell("cd " + r->in + " && for d in $(seq " + std::to_string(from) + " " +
                 std::to_string(to) + "); do " + (mkdirs ? "mkdir d$d; " : "") +
                 "for i in $(seq " + std::to_string(kPerDir) + "); do echo $i > d$d/f$i; done; done");
  };
  std::map<std::string, int> expected;
  for (int d = 1; d <= kDirs; ++d) {
    const std::string dir = "/in/d" + std::to_string(d);
    expected["create " + dir] = 1;
    for (int i = 1; i <= kPerDir; ++i) expected["create " + dir + "/f" + std::to_string(i)] = 1;
  }
  // The first half's directories exist and are watched first: with inotify, files written
  // into a directory the agent has not watched yet make no record, and would not overflow.
  REQUIRE(shell("cd " + r->in + " && for d in $(seq " + std::to_string(kDirs / 2) +
                "); do mkdir d$d; done") == 0);
  const auto first_dirs_reported = [&](const std::map<std::string, int>& g) {
    for (int d = 1; d <= kDirs / 2; ++d) {
      if (!g.count("create /in/d" + std::to_string(d))) return false;
    }
    return true;
  };
  REQUIRE(first_dirs_reported(wait_distinct(*r, first_dirs_reported)));
  // Their files while the agent cannot read (stopped): the queue overflows for certain.
  // The second half while it reads again, racing the rescan that the overflow started.
  REQUIRE(::kill(r->agent->pid(), SIGSTOP) == 0);
  const int first = burst(1, kDirs / 2, false);
  REQUIRE(::kill(r->agent->pid(), SIGCONT) == 0);
  REQUIRE(first == 0);
  REQUIRE(burst(kDirs / 2 + 1, kDirs, true) == 0);
  auto got = wait_distinct(*r, [&](const auto& g) { return g.size() >= expected.size(); }, 60s);
  sentinel(*r);
  expected["create /in/sentinel"] = 1;
  got = distinct(r->receiver, r->dir.path());
  INFO("agent log:\n" << r->agent->output());
  CHECK_MESSAGE(got == expected, difference(got, expected));
  CHECK_FALSE(log_lines(r->agent->output(), "rescan done").empty());
  const auto overflowed =
      log_lines(r->agent->output(), backend + " queue overflowed: operations were lost (raise fs." +
                                        backend + ".max_queued_events); a rescan is needed to "
                                                  "name them");
  CHECK_FALSE(overflowed.empty());
  CHECK(r->agent->stop(SIGTERM) == 0);
}

// A fanotify start lists every folder under the agent's filesystem mark, and each listing is
// two records (the directory opened, and closed unwritten). On a tree with more directories
// than the kernel queue holds, the agent's own records must not overflow it (no "operations
// were lost", no rescan), at a first start or a restart, and what another process does while
// the start scan runs is reported once the catch-up is out, exactly once.
void own_listings_at_start() {
  if (!backend_here("fanotify")) return;
  constexpr int kQueue = 8192;
  RunningAgent r(rules_for("fanotify"), false);
  // 150 x 100 directories: their listings alone are 30,000 records, more than 3 queues.
  for (int d = 0; d < 150; ++d) {
    const std::string dir = r.in + "/d" + std::to_string(d);
    std::filesystem::create_directory(dir);
    for (int e = 0; e < 100; ++e) std::filesystem::create_directory(dir + "/e" + std::to_string(e));
    write_file(dir + "/f", "x");
  }
  const auto start_small = [&] {
    QueueLimit limit("fanotify", kQueue);
    r.start();  // the fanotify group is made before "watching": it keeps the small queue
  };
  start_small();
  // fanotify says "watching" before its start scan is out: stopped in the middle of the scan,
  // the agent cannot read what another process does meanwhile until it runs again.
  REQUIRE(::kill(r.agent->pid(), SIGSTOP) == 0);
  const bool mid_scan = r.agent->output().find("\"msg\":\"catch-up done\"") == std::string::npos;
  const int changed = shell("cd " + r.in + " && printf n > d7/during && mv d3/f d3/g");
  REQUIRE(::kill(r.agent->pid(), SIGCONT) == 0);
  REQUIRE(changed == 0);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(mid_scan);
  REQUIRE(r.agent->wait_for_output("\"msg\":\"catch-up done\"", 120s));
  // The builder's index of the tree lists every directory once more, after the catch-up.
  REQUIRE(r.agent->wait_for_output("\"msg\":\"index of the watched folders built\"", 120s));
  sentinel(r);
  const std::map<std::string, int> expected = {{"create /in/d7/during", 1},
                                               {"move /in/d3/f -> /in/d3/g", 1},
                                               {"create /in/sentinel", 1}};
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  CHECK_MESSAGE(got == expected, difference(got, expected));
  const auto lost = [&] {
    return log_lines(r.agent->output(),
                     "fanotify queue overflowed: operations were lost (raise "
                     "fs.fanotify.max_queued_events); a rescan is needed to name them");
  };
  CHECK(lost().empty());
  CHECK(log_lines(r.agent->output(), "rescan done").empty());

  // A restart: the scan diffs the tree against the stored index, then the index again.
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  start_small();
  REQUIRE(r.agent->wait_for_output("\"msg\":\"catch-up done\"", 120s));
  REQUIRE(r.agent->wait_for_output("\"msg\":\"index of the watched folders built\"", 120s));
  write_file(r.in + "/sentinel2", "s");
  const auto second = wait_distinct(r, [](const auto& g) { return g.count("create /in/sentinel2"); });
  CHECK(second.count("create /in/sentinel2") == 1);
  CHECK(second.size() == expected.size() + 1);  // nothing at the restart: it was all indexed
  CHECK(log_lines(r.agent->output(), "catch-up done").back()["reported"] == 0);
  CHECK(lost().empty());
  CHECK(log_lines(r.agent->output(), "rescan done").empty());
  CHECK(r.agent->stop(SIGTERM) == 0);
}

void initial_scan_report(const std::string& backend) {
  if (!backend_here(backend)) return;
  RunningAgent r(rules_for(backend, "initial_scan = \"report\"\n"), false);
  REQUIRE(shell("cd " + r.in + " && mkdir d && printf a > d/a && printf b > b") == 0);
  start_caught_up(r);
  sentinel(r);
  const std::map<std::string, int> expected = {{"create /in/d", 1},
                                               {"create /in/d/a", 1},
                                               {"create /in/b", 1},
                                               {"create /in/sentinel", 1}};
  const auto got = wait_distinct(r, [&](const auto& g) { return g.size() >= expected.size(); });
  INFO("agent log:\n" << r.agent->output());
  CHECK_MESSAGE(got == expected, difference(got, expected));
  // Indexed now: a second start has nothing to report.
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  start_caught_up(r);
  CHECK(log_lines(r.agent->output(), "catch-up done").at(0)["reported"] == 0);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("inotify: changes made while the agent was stopped are reported at start, once each") {
  stopped_changes("inotify");
}
TEST_CASE("fanotify: changes made while the agent was stopped are reported at start, once each") {
  stopped_changes("fanotify");
}
TEST_CASE("inotify: killed with SIGKILL in the middle of a burst, nothing is lost or repeated") {
  killed_mid_burst("inotify");
}
TEST_CASE("fanotify: killed with SIGKILL in the middle of a burst, nothing is lost or repeated") {
  killed_mid_burst("fanotify");
}
TEST_CASE("inotify: a burst far larger than the kernel queue is reported exactly once, by a rescan") {
  overflow_burst("inotify");
}
TEST_CASE("fanotify: a burst far larger than the kernel queue is reported exactly once, by a rescan") {
  overflow_burst("fanotify");
}
TEST_CASE("fanotify: a start scan's own listings do not overflow a queue they outnumber three times") {
  own_listings_at_start();
}
TEST_CASE("inotify: initial_scan = report: a first start reports what is already there as created") {
  initial_scan_report("inotify");
}
TEST_CASE("fanotify: initial_scan = report: a first start reports what is already there as created") {
  initial_scan_report("fanotify");
}
