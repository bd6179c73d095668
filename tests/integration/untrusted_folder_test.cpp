// The agent as root beside a folder that an unprivileged user writes into (DESIGN.md, "Acting
// on untrusted folders"): the user swaps directories for symlinks to root-owned directories
// while the agent acts, and nothing outside the folder is ever deleted or read. Each attack is
// a loop run by a user the test creates, long enough to win the race against an agent that
// acts by path (it did, see the commit that added these), and no longer.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <string>

#include "tests/support/running_agent.h"
#include "tests/support/test_user.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

constexpr int kVictims = 50;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string victim_name(int i) {
  char name[8];
  std::snprintf(name, sizeof name, "f%03d", i);
  return name;
}

// Runs `script` with sh as `user`, in the folder; returns its exit status once it is done.
int run_as(const TestUser& user, const std::string& folder, const std::string& script) {
  return shell("cd '" + folder + "' && runuser -u " + user.name() + " -- sh -c '" + script + "'");
}

bool has_webhook(const Receiver& receiver, const std::string& action, const std::string& path) {
  for (const Webhook& hook : receiver.received()) {
    const auto part = hook.parts.find("path");
    const std::string got = part != hook.parts.end() ? part->second.second : hook.param("path");
    const auto kind = hook.parts.find("action");
    const std::string did = kind != hook.parts.end() ? kind->second.second : hook.param("action");
    if (got == path && did == action) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("retention never deletes outside the folder through a directory swapped for a symlink") {
  TestUser user;
  if (user.name().empty()) {
    MESSAGE("SKIPPED: no test user: " << user.why());
    return;
  }
  // Only the marker is reported: thousands of webhooks for the user's files would only slow
  // the test down. The log says what the retention did.
  RunningAgent r(rules_template("", "include = [\"after-the-attack\"]\n"
                                    "[[folder.behavior]]\nkind = \"retention\"\nafter = \"1d\"\n",
                                "behavior_interval = \"100ms\"\n"),
                 /*start_now=*/false);
  // Root's files outside the folder, old enough for the retention, with the names the user's
  // directory holds.
  REQUIRE(shell("mkdir " + r.dir / "victim") == 0);
  std::string names;
  for (int i = 0; i < kVictims; ++i) {
    write_file(r.dir / "victim/" + victim_name(i), "root's " + victim_name(i));
    names += " real/" + victim_name(i);
  }
  REQUIRE(shell("touch -d '5 days ago' " + r.dir / "victim/*") == 0);
  REQUIRE(shell("chmod 755 " + r.dir.path() + " && chmod 777 " + r.in) == 0);
  r.start();

  // d is the user's directory of old files one moment, a symlink to victim the next.
  const std::string attack = "ln -s " + r.dir / "victim" + " link && mkdir real && i=0 && "
                             "while [ $i -lt 300 ]; do touch -d \"5 days ago\"" + names + "; "
                             "mv -T real d; mv -T d real; mv -T link d; mv -T d link; "
                             "i=$((i+1)); done";
  CHECK(run_as(user, r.in, attack) == 0);
  // A run that began during the attack has ended once a run after it deleted this.
  write_file(r.in + "/after-the-attack", "old");
  REQUIRE(shell("touch -d '5 days ago' " + r.in + "/after-the-attack") == 0);
  const bool ran = wait_until([&] { return has_webhook(r.receiver, "destroy", r.in + "/after-the-attack"); }, 30s);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(ran);

  int missing = 0;
  for (int i = 0; i < kVictims; ++i) {
    if (!exists(r.dir / "victim/" + victim_name(i))) ++missing;
  }
  CHECK(missing == 0);
  // The retention did run against the user's files meanwhile, many times: the attack was tried.
  const std::string log = r.agent->output();
  int runs = 0;
  for (size_t at = log.find("\"msg\":\"behavior ran\""); at != std::string::npos;
       at = log.find("\"msg\":\"behavior ran\"", at + 1)) {
    ++runs;
  }
  CHECK(runs >= 10);
}

TEST_CASE("file_field never reads a file through a directory swapped for a symlink") {
  TestUser user;
  if (user.name().empty()) {
    MESSAGE("SKIPPED: no test user: " << user.why());
    return;
  }
  RunningAgent r(rules_template("", "method = \"POST\"\nfile_field = \"upload\"\n"
                                    "include = [\"**/shadow\", \"after-the-attack\"]\n"),
                 /*start_now=*/false);
  const std::string secret = "root-only secret 4242";
  REQUIRE(shell("mkdir -m 700 " + r.dir / "secret") == 0);
  write_file(r.dir / "secret/shadow", secret);
  REQUIRE(shell("chmod 600 " + r.dir / "secret/shadow") == 0);
  REQUIRE(shell("chmod 755 " + r.dir.path() + " && chmod 777 " + r.in) == 0);
  r.start();

  // q<i>/shadow is the user's file when it is reported, and q<i> a symlink to secret when it
  // is read.
  const std::string attack = "i=0; while [ $i -lt 100 ]; do mkdir q$i && echo harmless > q$i/shadow "
                             "&& mv q$i away$i && ln -s " + r.dir / "secret" + " q$i; "
                             "i=$((i+1)); done";
  CHECK(run_as(user, r.in, attack) == 0);
  // Deliveries keep the order of the operations: once this one is in, every upload before it is.
  write_file(r.in + "/after-the-attack", "done");
  const bool in = wait_until([&] { return has_webhook(r.receiver, "create", r.in + "/after-the-attack"); }, 60s);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(in);

  int shadows = 0;
  for (const Webhook& hook : r.receiver.received()) {
    const auto path = hook.parts.find("path");
    if (path != hook.parts.end() && path->second.second.ends_with("/shadow")) ++shadows;
    for (const auto& [name, part] : hook.parts) {
      CAPTURE(name);
      CHECK(part.second.find(secret) == std::string::npos);
    }
  }
  // The user's files were reported and read (or skipped) meanwhile: the attack was tried.
  CHECK(shadows >= 50);
}
