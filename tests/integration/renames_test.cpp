// Renames that reach the kernel as something else, through the real binary on both backends:
// a hard link then an unlink of the old name (what OpenSSH's sftp-server does for a plain
// rename request, and `ln a b && rm a`), and a file renamed into place while its writer still
// holds it open, closed after (what nginx does with a WebDAV PUT). The shell commands make the
// same system calls in the same order; the servers themselves are in the server matrix.
#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include "tests/integration/no_loss.h"
#include "tests/support/running_agent.h"
#include "tests/support/temp_dir.h"

using namespace folderhook::test;

namespace {

std::string rules_on(const std::string& backend) {
  return rules_template("", "", "backend = \"" + backend + "\"\n");
}

using Lines = std::vector<std::string>;

// `{ printf BODY; mv TEMP TARGET; } > TEMP`: the shell opens TEMP for writing, writes, renames
// it onto TARGET and only then closes it, as nginx does with a PUT's body.
std::string rename_while_open(const std::string& temp, const std::string& target) {
  return "sh -c '{ printf body; mv " + temp + " " + target + "; } > " + temp + "'";
}

void link_then_unlink(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(rules_on(backend), false);
  REQUIRE(shell("mkdir " + r.in + "/sub && printf k > " + r.in + "/keep") == 0);
  no_loss::start_caught_up(r);
  write_file(r.in + "/a", "content");
  r.nth(1);
  REQUIRE(shell("ln " + r.in + "/a " + r.in + "/sub/b && rm " + r.in + "/a") == 0);
  // A link too, so named a settle window after its CREATE: after whatever the first link
  // could still have left behind.
  REQUIRE(shell("ln " + r.in + "/keep " + r.in + "/marker") == 0);
  r.nth(3);
  INFO("agent log:\n" << r.agent->output());
  CHECK(r.operations() == Lines{"create /a", "move /a /sub/b", "create /marker"});
}

void link_stays(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(rules_on(backend), false);
  no_loss::start_caught_up(r);
  write_file(r.in + "/a", "content");
  r.nth(1);
  REQUIRE(shell("ln " + r.in + "/a " + r.in + "/b") == 0);
  r.nth(2);
  write_file(r.in + "/marker", "x");
  r.nth(3);
  CHECK(r.operations() == Lines{"create /a", "create /b", "create /marker"});
  // Either name may go: the other stays, one destroy.
  REQUIRE(shell("rm " + r.in + "/a") == 0);
  write_file(r.in + "/marker2", "x");
  r.nth(5);
  CHECK(r.operations() == Lines{"create /a", "create /b", "create /marker", "destroy /a",
                                 "create /marker2"});
}

void renamed_in_while_open(const std::string& backend, bool over_existing) {
  if (!no_loss::backend_here(backend)) return;
  TempDir outside;  // the temp directory, outside every folder (same filesystem: a rename)
  RunningAgent r(rules_on(backend), false);
  no_loss::start_caught_up(r);
  Lines expected;
  if (over_existing) {
    write_file(r.in + "/p.bin", "old");
    r.nth(1);
    expected = {"create /p.bin", "update /p.bin"};
  } else {
    expected = {"create /p.bin"};
  }
  REQUIRE(shell(rename_while_open(outside / "0000000001", r.in + "/p.bin")) == 0);
  write_file(r.in + "/marker", "x");  // named at its close, after anything the upload gave
  expected.push_back("create /marker");
  r.nth(expected.size());
  INFO("agent log:\n" << r.agent->output());
  CHECK(r.operations() == expected);
  CHECK(read_file(r.in + "/p.bin") == "body");
}

void renamed_from_temp_inside_while_open(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(rules_on(backend), false);
  no_loss::start_caught_up(r);
  REQUIRE(shell("mkdir " + r.in + "/client_body_temp") == 0);
  r.nth(1);
  REQUIRE(shell(rename_while_open(r.in + "/client_body_temp/0000000001", r.in + "/p.bin")) == 0);
  write_file(r.in + "/marker", "x");
  r.nth(3);
  INFO("agent log:\n" << r.agent->output());
  CHECK(r.operations() == Lines{"create /client_body_temp", "create /p.bin", "create /marker"});
}

void moved_in_then_written(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  TempDir outside;
  RunningAgent r(rules_on(backend), false);
  no_loss::start_caught_up(r);
  REQUIRE(shell("printf x > " + outside / "m" + " && mv " + outside / "m " + r.in +
                "/m && printf y >> " + r.in + "/m") == 0);
  write_file(r.in + "/marker", "x");
  r.nth(3);
  INFO("agent log:\n" << r.agent->output());
  CHECK(r.operations() == Lines{"create /m", "update /m", "create /marker"});
}

void link_then_unlink_while_stopped(const std::string& backend) {
  if (!no_loss::backend_here(backend)) return;
  RunningAgent r(rules_on(backend), false);
  REQUIRE(shell("mkdir " + r.in + "/sub && printf content > " + r.in + "/a") == 0);
  no_loss::start_caught_up(r);
  REQUIRE(r.agent->stop(SIGTERM) == 0);
  REQUIRE(shell("ln " + r.in + "/a " + r.in + "/sub/b && rm " + r.in + "/a") == 0);
  no_loss::start_caught_up(r);
  no_loss::sentinel(r);
  INFO("agent log:\n" << r.agent->output());
  CHECK(r.operations() == Lines{"move /a /sub/b", "create /sentinel"});
}

}  // namespace

TEST_CASE("inotify: a hard link then an unlink of the old name is one move") {
  link_then_unlink("inotify");
}
TEST_CASE("fanotify: a hard link then an unlink of the old name is one move") {
  link_then_unlink("fanotify");
}
TEST_CASE("inotify: a hard link that stays is a create of the new name") { link_stays("inotify"); }
TEST_CASE("fanotify: a hard link that stays is a create of the new name") {
  link_stays("fanotify");
}
TEST_CASE("inotify: renamed in from outside while open, closed after, is one create") {
  renamed_in_while_open("inotify", false);
}
TEST_CASE("fanotify: renamed in from outside while open, closed after, is one create") {
  renamed_in_while_open("fanotify", false);
}
TEST_CASE("inotify: renamed in while open onto an existing file, closed after, is one update") {
  renamed_in_while_open("inotify", true);
}
TEST_CASE("fanotify: renamed in while open onto an existing file, closed after, is one update") {
  renamed_in_while_open("fanotify", true);
}
TEST_CASE("inotify: renamed from a temp dir inside the folder while open is one create") {
  renamed_from_temp_inside_while_open("inotify");
}
TEST_CASE("fanotify: renamed from a temp dir inside the folder while open is one create") {
  renamed_from_temp_inside_while_open("fanotify");
}
TEST_CASE("inotify: a moved-in file then written by another open is a create then an update") {
  moved_in_then_written("inotify");
}
TEST_CASE("fanotify: a moved-in file then written by another open is a create then an update") {
  moved_in_then_written("fanotify");
}
TEST_CASE("inotify: a hard link and an unlink while stopped are one move at start") {
  link_then_unlink_while_stopped("inotify");
}
TEST_CASE("fanotify: a hard link and an unlink while stopped are one move at start") {
  link_then_unlink_while_stopped("fanotify");
}
