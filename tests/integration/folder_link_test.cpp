// A folder given as a symlink (agent/folder_links.h): the directory it points to is watched,
// and everything is reported under the name the rules give.
#include <doctest/doctest.h>

#include "tests/support/running_agent.h"

using namespace folderhook::test;

TEST_CASE("a folder given as a symlink is watched, and reported under its configured name") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  REQUIRE(shell("rmdir " + r.in + " && mkdir " + r.dir / "real && ln -s real " + r.in) == 0);
  r.start();
  CHECK(r.agent->output().find("\"msg\":\"watched folder is a symlink; watching the directory it "
                               "points to\"") != std::string::npos);
  CHECK(r.agent->output().find("\"target\":\"" + r.dir / "real" + "\"") != std::string::npos);
  write_file(r.in + "/a.txt", "hi");
  const Webhook hook = r.nth(1);
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("path") == r.in + "/a.txt");
  REQUIRE(shell("mv " + r.dir / "real/a.txt " + r.dir / "real/b.txt") == 0);
  const Webhook move = r.nth(2);
  CHECK(move.param("action") == "move");
  CHECK(move.param("path") == r.in + "/a.txt");
  CHECK(move.param("destination") == r.in + "/b.txt");
}

TEST_CASE("a folder given as a symlink that points nowhere is watched once its target appears") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  REQUIRE(shell("rmdir " + r.in + " && ln -s " + r.dir / "later " + r.in) == 0);
  r.start();
  CHECK(r.agent->output().find("watched folder does not exist yet") != std::string::npos);
  REQUIRE(shell("mkdir " + r.dir / "later") == 0);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("watched folder appeared"));
  // As any folder that appears: its create, by the configured name, then what is in it.
  const Webhook appeared = r.nth(1);
  CHECK(appeared.param("action") == "create");
  CHECK(appeared.param("type") == "directory");
  CHECK(appeared.param("path") == r.in);
  write_file(r.in + "/a.txt", "hi");
  const Webhook hook = r.nth(2);
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("path") == r.in + "/a.txt");
}

TEST_CASE(
    "a behavior on a folder given as a symlink acts in its directory, reported once by name") {
  RunningAgent r(rules_template("", "[[folder.behavior]]\nkind = \"retention\"\nafter = \"1d\"\n"),
                 /*start_now=*/false);
  REQUIRE(shell("rmdir " + r.in + " && mkdir " + r.dir / "real && ln -s real " + r.in) == 0);
  write_file(r.dir / "real/old.csv", "old");
  REQUIRE(shell("touch -d '5 days ago' " + r.dir / "real/old.csv") == 0);
  r.start();
  const Webhook hook = r.nth(1);
  CHECK(hook.param("action") == "destroy");
  CHECK(hook.param("path") == r.in + "/old.csv");
  CHECK(hook.param("interface") == "robot");
  // The watcher's own report of the delete was recognised as the robot's: nothing else came.
  write_file(r.in + "/after.txt", "x");
  CHECK(r.nth(2).param("path") == r.in + "/after.txt");
  INFO("agent log:\n" << r.agent->output());
  CHECK(r.receiver.count() == 2);
}

TEST_CASE("a folder given as a symlink and added by a reload is watched, reported by its name") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  REQUIRE(shell("mkdir " + r.dir / "real && ln -s real " + r.dir / "added") == 0);
  r.start();
  r.write_rules(rules_template() + "\n[[folder]]\npath = \"{DIR}/added\"\nurls = [\"{URL}\"]\n");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"folders_added\""));
  CHECK(r.agent->output().find("\"target\":\"" + r.dir / "real" + "\"") != std::string::npos);
  write_file(r.dir / "added/a.txt", "hi");
  const Webhook hook = r.nth(1);
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("path") == r.dir / "added/a.txt");
}
