// `permissions = true` through the real binary on both backends: real chmod, chown, chgrp,
// setfacl (Debian's acl) and chmod -R on a real folder, each reported once as action=update,
// type=permission with the mode, owner and group after it; touch, a write and a folder that
// does not ask report no permission change. A chmod, chown or setfacl made while the agent was
// stopped, or whose record a kernel queue overflow lost, is reported once by the catch-up.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/no_loss.h"
#include "tests/support/running_agent.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_user.h"
#include "tests/support/wait.h"

using namespace folderhook::test;

namespace {

std::string permission_rules(const std::string& backend, const std::string& folder =
                                                             "permissions = true\n") {
  return rules_template("", folder, "backend = \"" + backend + "\"\n");
}

// The mode `stat` reads now, as the webhook spells it ("0664").
std::string mode_of(const std::string& path) {
  TempDir out;
  REQUIRE(shell("stat -c %04a " + path + " > " + out / "mode") == 0);
  std::string mode = read_file(out / "mode");
  while (!mode.empty() && mode.back() == '\n') mode.pop_back();
  return mode;
}

std::vector<Webhook> permission_hooks(const RunningAgent& r) {
  std::vector<Webhook> out;
  for (const Webhook& hook : r.receiver.received()) {
    if (hook.param("type") == "permission") out.push_back(hook);
  }
  return out;
}

// Starts the agent and waits until it compares with what the folder holds: the catch-up is out,
// and with fanotify the background index has reached every object (before, a change to an
// object it has not reached is only recorded: README, "Permission changes").
void start_ready(RunningAgent& r, const std::string& backend) {
  no_loss::start_caught_up(r);
  if (backend == "fanotify") {
    INFO("agent log:\n" << r.agent->output());
    REQUIRE(r.agent->wait_for_output("index of the watched folders built"));
  }
}

// Waits for the create of `name` (written now): whatever came before it has been reported.
void write_marker(RunningAgent& r, const std::string& name) {
  write_file(r.in + "/" + name, "m");
  const std::string path = r.in + "/" + name;
  REQUIRE(wait_until([&] {
    const auto all = r.receiver.received();
    return std::any_of(all.begin(), all.end(),
                       [&](const Webhook& h) { return h.param("path") == path; });
  }));
}

void each_command_once(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  if (::access("/usr/bin/setfacl", X_OK) != 0) {
    MESSAGE("SKIPPED: needs setfacl (Debian's acl)");
    return;
  }
  TestUser user;
  if (!user.available()) return;
  RunningAgent r(permission_rules(backend), false);
  const std::string f = r.in + "/f";
  write_file(f, "x");
  REQUIRE(shell("chmod 644 " + f) == 0);
  start_ready(r, backend);
  INFO("agent log:\n" << r.agent->output());

  const std::vector<std::string> commands = {
      "chmod 600 " + f, "chown " + user.name() + " " + f, "chgrp nogroup " + f,
      "setfacl -m u:" + user.name() + ":rw " + f, "setfacl -b " + f};
  for (size_t i = 0; i < commands.size(); ++i) {
    INFO(commands[i]);
    REQUIRE(shell(commands[i]) == 0);
    const Webhook hook = r.nth(i + 1);
    CHECK(hook.param("action") == "update");
    CHECK(hook.param("type") == "permission");
    CHECK(hook.param("path") == f);
    CHECK(hook.param("mode") == mode_of(f));
    const std::vector<std::string> names = hook.names();
    REQUIRE(names.size() >= 4);
    CHECK(std::vector<std::string>(names.end() - 4, names.end()) ==
          std::vector<std::string>{"type", "mode", "owner", "group"});
    CHECK(hook.param("owner") == (i == 0 ? "root" : user.name()));
    CHECK(hook.param("group") == (i < 2 ? "root" : "nogroup"));
  }
  CHECK(r.nth(1).param("mode") == "0600");
  CHECK(r.nth(4).param("mode") == "0660");  // the ACL's mask is the group bits

  // None of these changes a permission: a touch, a write, a chmod to the mode it has.
  REQUIRE(shell("touch " + f + " && printf more >> " + f + " && chmod " + mode_of(f) + " " + f) ==
          0);
  write_marker(r, "marker");
  CHECK(permission_hooks(r).size() == commands.size());
}

void chmod_recursive(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(permission_rules(backend), false);
  REQUIRE(shell("mkdir -p " + r.in + "/t/u && printf a > " + r.in + "/t/a && printf b > " + r.in +
                "/t/u/b && chmod 755 " + r.in + "/t " + r.in + "/t/u && chmod 644 " + r.in +
                "/t/a " + r.in + "/t/u/b") == 0);
  start_ready(r, backend);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(shell("chmod -R go-rwx " + r.in + "/t") == 0);
  write_marker(r, "marker");
  std::vector<std::string> seen;
  for (const Webhook& hook : permission_hooks(r)) {
    seen.push_back(hook.param("path").substr(r.in.size()) + " " + hook.param("mode"));
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{"/t 0700", "/t/a 0600", "/t/u 0700", "/t/u/b 0600"});
}

void not_asked(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  // A folder that does not ask: a chmod is nothing.
  RunningAgent r(permission_rules(backend, ""), false);
  write_file(r.in + "/f", "x");
  start_ready(r, backend);
  REQUIRE(shell("chmod 600 " + r.in + "/f") == 0);
  write_marker(r, "marker");
  CHECK(r.receiver.received().size() == 1);
}

// "/f 0600 nobody root": what a permission update says, its path relative to the folder.
std::vector<std::string> permission_lines(const RunningAgent& r) {
  std::vector<std::string> out;
  for (const Webhook& hook : permission_hooks(r)) {
    out.push_back(hook.param("path").substr(r.in.size()) + " " + hook.param("mode") + " " +
                  hook.param("owner") + " " + hook.param("group"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Waits until `n` permission updates have arrived, then for a marker written after them (a new
// name each time: an earlier marker's create would answer at once).
void wait_permissions(RunningAgent& r, size_t n) {
  INFO("agent log:\n" << r.agent->output());
  CHECK(wait_until([&] { return permission_hooks(r).size() >= n; }, std::chrono::seconds(30)));
  write_marker(r, "marker" + std::to_string(r.receiver.count()));
}

void while_stopped(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  if (::access("/usr/bin/setfacl", X_OK) != 0) {
    MESSAGE("SKIPPED: needs setfacl (Debian's acl)");
    return;
  }
  RunningAgent r(permission_rules(backend), false);
  for (const char* name : {"a", "b", "c", "d"}) write_file(r.in + "/" + name, "x");
  REQUIRE(shell("chmod 644 " + r.in + "/a " + r.in + "/b " + r.in + "/c " + r.in + "/d") == 0);
  start_ready(r, backend);
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  REQUIRE(shell("chmod 600 " + r.in + "/a && chown nobody " + r.in + "/b && setfacl -m u:nobody:r " +
                r.in + "/c && touch -d '+1 hour' " + r.in + "/d") == 0);
  const std::string c_mode = mode_of(r.in + "/c");
  start_ready(r, backend);
  wait_permissions(r, 3);
  INFO("agent log:\n" << r.agent->output());
  CHECK(permission_lines(r) == std::vector<std::string>{"/a 0600 root root", "/b 0644 nobody root",
                                                        "/c " + c_mode + " root root"});
  for (const Webhook& hook : permission_hooks(r)) CHECK(hook.param("action") == "update");
  // The touched file is a content update, never a permission change.
  const auto all = r.receiver.received();
  CHECK(std::count_if(all.begin(), all.end(), [&](const Webhook& h) {
          return h.param("path") == r.in + "/d" && h.param("action") == "update" &&
                 !h.has("mode");
        }) == 1);
}

void live_then_stopped(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(permission_rules(backend), false);
  for (const char* name : {"a", "b", "c"}) write_file(r.in + "/" + name, "x");
  REQUIRE(shell("chmod 644 " + r.in + "/a " + r.in + "/b " + r.in + "/c") == 0);
  start_ready(r, backend);
  REQUIRE(shell("chmod 640 " + r.in + "/a " + r.in + "/c") == 0);
  wait_permissions(r, 2);
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  // a's change was reported live: the stored index has it, the next start says nothing of it.
  // b's and c's changes while stopped are news (c's compared with the value its live report
  // stored).
  REQUIRE(shell("chmod 600 " + r.in + "/b " + r.in + "/c") == 0);
  start_ready(r, backend);
  wait_permissions(r, 4);
  INFO("agent log:\n" << r.agent->output());
  CHECK(permission_lines(r) == std::vector<std::string>{"/a 0640 root root", "/b 0600 root root",
                                                        "/c 0600 root root", "/c 0640 root root"});
  // And the live comparison starts from the values the catch-up reported.
  REQUIRE(shell("chmod 600 " + r.in + "/b") == 0);
  REQUIRE(shell("chmod 604 " + r.in + "/b") == 0);
  wait_permissions(r, 5);
  CHECK(permission_lines(r) == std::vector<std::string>{"/a 0640 root root", "/b 0600 root root",
                                                        "/b 0604 root root", "/c 0600 root root",
                                                        "/c 0640 root root"});
}

void lost_to_overflow(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(permission_rules(backend), false);
  write_file(r.in + "/f", "x");
  REQUIRE(shell("chmod 644 " + r.in + "/f") == 0);
  {
    no_loss::QueueLimit limit(backend, 64);
    r.start();  // its kernel instance is made by now, and keeps the 64-event queue
  }
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"msg\":\"catch-up done\""));
  if (backend == "fanotify") REQUIRE(r.agent->wait_for_output("index of the watched folders built"));
  // While the agent cannot read: more records than the queue holds, then the chmod, whose
  // record the full queue drops.
  REQUIRE(::kill(r.agent->pid(), SIGSTOP) == 0);
  const int filled = shell("cd " + r.in + " && for i in $(seq 100); do : > g$i; done");
  const int changed = shell("chmod 600 " + r.in + "/f");
  REQUIRE(::kill(r.agent->pid(), SIGCONT) == 0);
  REQUIRE(filled == 0);
  REQUIRE(changed == 0);
  REQUIRE(r.agent->wait_for_output("\"msg\":\"rescan done\"", std::chrono::seconds(30)));
  wait_permissions(r, 1);
  CHECK(permission_lines(r) == std::vector<std::string>{"/f 0600 root root"});
  // The live comparison goes on from what the rescan reported: the same mode again is nothing.
  REQUIRE(shell("chmod 600 " + r.in + "/f") == 0);
  write_marker(r, "marker2");
  CHECK(permission_lines(r) == std::vector<std::string>{"/f 0600 root root"});
  CHECK_FALSE(no_loss::log_lines(r.agent->output(),
                                 backend + " queue overflowed: operations were lost (raise fs." +
                                     backend + ".max_queued_events); a rescan is needed to "
                                               "name them")
                  .empty());
}

void turned_on_by_reload(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(permission_rules(backend, ""), false);
  const std::string f = r.in + "/f";
  write_file(f, "x");
  REQUIRE(shell("chmod 644 " + f) == 0);
  start_ready(r, backend);
  r.write_rules(permission_rules(backend));
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"msg\":\"rules reloaded\""));
  REQUIRE(shell("chmod 600 " + f) == 0);
  const Webhook hook = r.nth(1);
  CHECK(hook.param("type") == "permission");
  CHECK(hook.param("mode") == "0600");
  write_marker(r, "marker");
  CHECK(permission_hooks(r).size() == 1);
}

}  // namespace

TEST_CASE("inotify: chmod, chown, chgrp, setfacl and setfacl -b are each one permission update") {
  each_command_once("inotify");
}
TEST_CASE("fanotify: chmod, chown, chgrp, setfacl and setfacl -b are each one permission update") {
  each_command_once("fanotify");
}
TEST_CASE("inotify: chmod -R is one permission update per object") { chmod_recursive("inotify"); }
TEST_CASE("fanotify: chmod -R is one permission update per object") { chmod_recursive("fanotify"); }
TEST_CASE("inotify: no permission update where not asked") { not_asked("inotify"); }
TEST_CASE("fanotify: no permission update where not asked") { not_asked("fanotify"); }
TEST_CASE("inotify: chmod, chown and setfacl while stopped are reported at start, a touch is not") {
  while_stopped("inotify");
}
TEST_CASE("fanotify: chmod, chown and setfacl while stopped are reported at start, a touch is not") {
  while_stopped("fanotify");
}
TEST_CASE("inotify: a chmod reported live is not reported again at the next start") {
  live_then_stopped("inotify");
}
TEST_CASE("fanotify: a chmod reported live is not reported again at the next start") {
  live_then_stopped("fanotify");
}
TEST_CASE("inotify: a chmod whose record a queue overflow lost is reported by the rescan") {
  lost_to_overflow("inotify");
}
TEST_CASE("fanotify: a chmod whose record a queue overflow lost is reported by the rescan") {
  lost_to_overflow("fanotify");
}

TEST_CASE("inotify: permissions turned on by a reload report the next chmod") {
  turned_on_by_reload("inotify");
}
TEST_CASE("fanotify: permissions turned on by a reload report the next chmod") {
  turned_on_by_reload("fanotify");
}

TEST_CASE("a permission change POSTed as JSON carries type permission, mode, owner and group") {
  RunningAgent r(rules_template("", "permissions = true\nmethod = \"POST\"\n",
                                "backend = \"inotify\"\n"),
                 false);
  write_file(r.in + "/f", "x");
  REQUIRE(shell("chmod 644 " + r.in + "/f") == 0);
  start_ready(r, "inotify");
  REQUIRE(shell("chmod 4711 " + r.in + "/f") == 0);
  const Webhook hook = r.nth(1);
  INFO(hook.body);
  const auto body = nlohmann::json::parse(hook.body);
  CHECK(body["action"] == "update");
  CHECK(body["type"] == "permission");
  CHECK(body["mode"] == "4711");
  CHECK(body["owner"] == "root");
  CHECK(body["group"] == "root");
}
