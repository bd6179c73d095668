// [accounts]: real useradd, usermod, userdel, groupadd and gpasswd on /etc, the real binary, a
// real receiver. Every account is named for this process and removed again, even on failure.
// Other tests on the machine may add their own users meanwhile: hooks are picked by name.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/running_agent.h"
#include "tests/support/wait.h"

using namespace folderhook::test;

namespace {

// Names unique to this process and case; userdel/groupdel at the end whatever happened.
struct Accounts {
  std::string user, group;
  explicit Accounts(const std::string& tag) {
    const std::string id = std::to_string(::getpid() % 100000);
    user = "fhu" + tag + id;
    group = "fhg" + tag + id;
    remove();  // left over from a killed run
  }
  ~Accounts() { remove(); }
  void remove() const {
    shell("userdel " + user + " >/dev/null 2>&1; groupdel " + user + " >/dev/null 2>&1; "
          "groupdel " + group + " >/dev/null 2>&1");
  }
};

std::string rules_with_accounts(const std::string& accounts_extra = "") {
  return rules_template() + "\n[accounts]\nurls = [\"{URL}\"]\n" + accounts_extra;
}

// The account hooks received so far about `name`.
std::vector<Webhook> hooks_about(const RunningAgent& r, const std::string& name) {
  std::vector<Webhook> out;
  for (const Webhook& hook : r.receiver.received()) {
    // GET: the query; POST: the JSON body (its keys in name order: "type" follows "path").
    const bool get = hook.param("path") == name &&
                     (hook.param("type") == "user" || hook.param("type") == "group");
    const bool post = hook.method == "POST" &&
                      hook.body.find("\"path\":\"" + name + "\",\"type\"") !=
                          std::string::npos;
    if (get || post) out.push_back(hook);
  }
  return out;
}

// Waits until `n` hooks about `name` have come; fails with the agent's log if they do not.
std::vector<Webhook> wait_about(RunningAgent& r, const std::string& name, size_t n) {
  const bool came = wait_until([&] { return hooks_about(r, name).size() >= n; });
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(came);
  return hooks_about(r, name);
}

std::string account_kind(const Webhook& hook) {
  return hook.param("action") + " " + hook.param("type");
}

void start_and_wait_for_accounts(RunningAgent& r, const std::string& line) {
  r.start();
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output(line));
}

}  // namespace

TEST_CASE("useradd, usermod -s and userdel reach the receiver as create, one update, destroy") {
  Accounts a("a");
  RunningAgent r(rules_with_accounts(), /*start_now=*/false);
  // The first start only records: the accounts already there are not reported.
  start_and_wait_for_accounts(r, "\"msg\":\"accounts: recorded\"");

  REQUIRE(shell("useradd -M -U -s /bin/sh -d /home/" + a.user + " " + a.user) == 0);
  auto hooks = wait_about(r, a.user, 2);
  // -U: the user and its own group, in one read or two.
  const Webhook& created = hooks[0].param("type") == "user" ? hooks[0] : hooks[1];
  const Webhook& group = hooks[0].param("type") == "user" ? hooks[1] : hooks[0];
  CHECK(account_kind(created) == "create user");
  CHECK(account_kind(group) == "create group");
  CHECK(created.names() == std::vector<std::string>{"action", "type", "path", "username",
                                                    "interface", "at", "uid", "gid", "home",
                                                    "shell"});
  CHECK(created.param("username") == "root");
  CHECK(created.param("interface") == "robot");
  CHECK(created.param("home") == "/home/" + a.user);
  CHECK(created.param("shell") == "/bin/sh");
  CHECK(std::stoi(created.param("uid")) > 0);
  CHECK(created.param("gid") == group.param("gid"));
  CHECK(group.names() == std::vector<std::string>{"action", "type", "path", "username",
                                                  "interface", "at", "gid", "members"});

  REQUIRE(shell("usermod -s /bin/bash " + a.user) == 0);
  hooks = wait_about(r, a.user, 3);
  CHECK(account_kind(hooks[2]) == "update user");
  CHECK(hooks[2].param("shell") == "/bin/bash");

  REQUIRE(shell("userdel " + a.user) == 0);
  hooks = wait_about(r, a.user, 5);
  const Webhook& destroyed = hooks[3].param("type") == "user" ? hooks[3] : hooks[4];
  CHECK(account_kind(destroyed) == "destroy user");
  CHECK(account_kind(hooks[3].param("type") == "user" ? hooks[4] : hooks[3]) == "destroy group");
  CHECK(destroyed.param("shell") == "/bin/bash");  // as it was
  CHECK(hooks_about(r, a.user).size() == 5);  // usermod -s was one update, nothing else came
  CHECK(hooks_about(r, "root").empty());      // nothing about accounts that did not change
}

TEST_CASE("groupadd and gpasswd -a are a group create and one group update with its members") {
  Accounts a("b");
  RunningAgent r(rules_with_accounts("method = \"POST\"\n"
                                     "secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"),
                 /*start_now=*/false);
  REQUIRE(shell("useradd -M -N -g nogroup " + a.user) == 0);  // before the agent: not reported
  start_and_wait_for_accounts(r, "\"msg\":\"accounts: recorded\"");

  REQUIRE(shell("groupadd " + a.group) == 0);
  auto hooks = wait_about(r, a.group, 1);
  CHECK(hooks[0].method == "POST");
  CHECK(hooks[0].body.find("\"action\":\"create\"") != std::string::npos);
  CHECK(hooks[0].body.find("\"members\":\"\"") != std::string::npos);
  CHECK_FALSE(hooks[0].header("webhook-signature").empty());

  REQUIRE(shell("gpasswd -a " + a.user + " " + a.group + " >/dev/null") == 0);
  hooks = wait_about(r, a.group, 2);
  CHECK(hooks[1].body.find("\"action\":\"update\"") != std::string::npos);
  CHECK(hooks[1].body.find("\"members\":\"" + a.user + "\"") != std::string::npos);

  REQUIRE(shell("groupdel " + a.group) == 0);
  hooks = wait_about(r, a.group, 3);
  CHECK(hooks[2].body.find("\"action\":\"destroy\"") != std::string::npos);
  CHECK(hooks_about(r, a.group).size() == 3);  // gpasswd -a was one update
  CHECK(hooks_about(r, a.user).empty());       // made before the first start: recorded, not reported
}

TEST_CASE("a group added while the agent was stopped is reported once, at the next start") {
  Accounts a("c");
  RunningAgent r(rules_with_accounts(), /*start_now=*/false);
  start_and_wait_for_accounts(r, "\"msg\":\"accounts: recorded\"");
  REQUIRE(r.agent->stop(SIGTERM) == 0);

  REQUIRE(shell("groupadd " + a.group) == 0);
  start_and_wait_for_accounts(r, "\"msg\":\"accounts: compared with the snapshot\"");
  auto hooks = wait_about(r, a.group, 1);
  CHECK(account_kind(hooks[0]) == "create group");
  CHECK(hooks[0].param("username") == "root");

  // Saved once committed: a second restart does not report it again.
  REQUIRE(wait_until([&] { return r.agent->output().find("\"outcome\":\"delivered\"") !=
                                  std::string::npos; }));
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  start_and_wait_for_accounts(r, "\"msg\":\"accounts: compared with the snapshot\"");
  REQUIRE(shell("groupdel " + a.group) == 0);
  hooks = wait_about(r, a.group, 2);
  CHECK(account_kind(hooks[1]) == "destroy group");
  CHECK(hooks_about(r, a.group).size() == 2);
}

TEST_CASE("check refuses a bad [accounts] at its FILE:LINE:COL") {
  TempDir dir;
  shell("mkdir " + dir / "in");
  write_file(dir / "rules.toml", "[agent]\nstate_dir = \"" + dir / "state" +
                                     "\"\n[[folder]]\npath = \"" + dir / "in" +
                                     "\"\nurls = [\"http://127.0.0.1:1/h\"]\n"
                                     "[accounts]\nurls = [\"ftp://x/y\"]\nmethod = \"PUT\"\n");
  std::string out;
  CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 2);
  CHECK(out.find(dir / "rules.toml" + ":7:8: accounts.urls: 'ftp://x/y' is not a usable URL") !=
        std::string::npos);
  CHECK(out.find(dir / "rules.toml" + ":8:10: accounts.method must be \"GET\" or \"POST\"") !=
        std::string::npos);
}

TEST_CASE("a reload changes [accounts]' urls at once; adding or removing it needs a restart") {
  Accounts a("d");
  RunningAgent r(rules_with_accounts(), /*start_now=*/false);
  start_and_wait_for_accounts(r, "\"msg\":\"accounts: recorded\"");
  r.write_rules(rules_template() + "\n[accounts]\nurls = [\"" + r.receiver.url("/new") + "\"]\n");
  REQUIRE(r.agent->wait_for_output("\"msg\":\"rules reloaded\""));
  REQUIRE(shell("groupadd " + a.group) == 0);
  const auto hooks = wait_about(r, a.group, 1);
  CHECK(hooks[0].path == "/new");

  r.write_rules(rules_template());  // [accounts] removed: kept until a restart
  REQUIRE(r.agent->wait_for_output("\"needs_restart\":[\"[accounts]\"]"));
  REQUIRE(shell("groupdel " + a.group) == 0);
  CHECK(wait_about(r, a.group, 2)[1].path == "/new");
}
