// Folder behaviors run by the real agent on a real folder: files with an old mtime are removed
// or moved, reported once each with interface=robot, and nothing else is touched.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <map>
#include <set>

#include "tests/support/running_agent.h"

using namespace folderhook::test;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Every webhook received, one line each, for failure messages.
std::string described(const Receiver& receiver) {
  std::string out;
  for (const Webhook& hook : receiver.received()) {
    out += hook.param("action") + " " + hook.param("path") + " " + hook.param("destination") + " " +
           hook.param("interface") + "\n";
  }
  return out;
}

void make_old(const std::string& path) {
  REQUIRE(shell("touch -h -d '5 days ago' '" + path + "'") == 0);
}

}  // namespace

TEST_CASE("retention deletes old files once, reported as destroy by the robot, and nothing else") {
  RunningAgent r(rules_template("", "[[folder.behavior]]\nkind = \"retention\"\nafter = \"3d\"\n"
                                    "include = [\"**/*.csv\"]\nremove_empty_dirs = true\n",
                                "robot_username = \"janitor\"\n"),
                 /*start_now=*/false);
  REQUIRE(shell("mkdir -p " + r.in + "/old/deeper " + r.in + "/mixed " + r.in + "/empty") == 0);
  write_file(r.in + "/old/deeper/a.csv", "a");
  write_file(r.in + "/mixed/b.csv", "b");
  write_file(r.in + "/mixed/keep.txt", "not a csv");
  write_file(r.in + "/fresh.csv", "new");
  for (const char* p : {"/old/deeper/a.csv", "/mixed/b.csv", "/mixed/keep.txt"}) make_old(r.in + p);
  write_file(r.dir / "outside.csv", "never touched");
  make_old(r.dir / "outside.csv");
  REQUIRE(shell("ln -s " + r.dir / "outside.csv " + r.in + "/link-out.txt") == 0);

  r.start();
  r.nth(4);  // two files, then the two directories the first one leaves empty
  std::map<std::string, std::string> got;  // path -> action/type/interface/username
  for (const Webhook& hook : r.receiver.received()) {
    got[hook.param("path")] = hook.param("action") + " " + hook.param("type") + " " +
                              hook.param("interface") + " " + hook.param("username");
  }
  CHECK(got == std::map<std::string, std::string>{
                   {r.in + "/old/deeper/a.csv", "destroy file robot janitor"},
                   {r.in + "/mixed/b.csv", "destroy file robot janitor"},
                   {r.in + "/old/deeper", "destroy directory robot janitor"},
                   {r.in + "/old", "destroy directory robot janitor"}});
  CHECK_FALSE(exists(r.in + "/old"));
  CHECK_FALSE(exists(r.in + "/mixed/b.csv"));
  CHECK(exists(r.in + "/mixed/keep.txt"));
  CHECK(exists(r.in + "/fresh.csv"));
  CHECK(exists(r.in + "/empty"));
  CHECK(exists(r.dir / "outside.csv"));
  CHECK(exists(r.in + "/link-out.txt"));

  // A later operation by someone else is reported normally: the robot's reports were claimed
  // once each, and nothing more arrived meanwhile.
  write_file(r.in + "/after.txt", "x");
  const Webhook next = r.nth(5);
  CHECK(next.param("path") == r.in + "/after.txt");
  CHECK(next.param("interface") == "sftp");
  INFO(described(r.receiver) << r.agent->output());
  CHECK(r.receiver.count() == 5);
}

TEST_CASE("move_after moves old files into the archive, reported as move by the robot") {
  RunningAgent r(rules_template("", "[[folder.behavior]]\nkind = \"move_after\"\nafter = \"1d\"\n"
                                    "to = \"{IN}/archive\"\n"),
                 /*start_now=*/false);
  REQUIRE(shell("mkdir -p " + r.in + "/2024 " + r.in + "/archive") == 0);
  write_file(r.in + "/2024/report.csv", "r");
  make_old(r.in + "/2024/report.csv");
  write_file(r.in + "/today.csv", "t");

  r.start();
  const Webhook dir = r.nth(1);
  CHECK(dir.param("action") == "create");
  CHECK(dir.param("type") == "directory");
  CHECK(dir.param("path") == r.in + "/archive/2024");
  CHECK(dir.param("interface") == "robot");
  const Webhook move = r.nth(2);
  CHECK(move.param("action") == "move");
  CHECK(move.param("path") == r.in + "/2024/report.csv");
  CHECK(move.param("destination") == r.in + "/archive/2024/report.csv");
  CHECK(move.param("interface") == "robot");
  CHECK(move.param("username") == "folderhook");
  // Checked with lstat, not by reading it: a read is an operation the agent would report.
  struct stat moved {};
  REQUIRE(::lstat((r.in + "/archive/2024/report.csv").c_str(), &moved) == 0);
  CHECK(moved.st_size == 1);
  CHECK(exists(r.in + "/today.csv"));

  write_file(r.in + "/later.txt", "x");
  CHECK(r.nth(3).param("path") == r.in + "/later.txt");
  INFO(described(r.receiver) << r.agent->output());
  CHECK(r.receiver.count() == 3);
}

TEST_CASE("behaviors --dry-run lists what would be done and changes nothing") {
  TempDir dir;
  REQUIRE(shell("mkdir -p " + dir / "in/sub") == 0);
  write_file(dir / "in/sub/old.log", "x");
  make_old(dir / "in/sub/old.log");
  write_file(dir / "in/new.log", "x");
  write_file(dir / "rules.toml", "[agent]\nstate_dir = \"" + dir / "state" + "\"\n[[folder]]\npath = \"" +
                                     dir / "in" + "\"\nurls = [\"http://127.0.0.1:1/h\"]\n"
                                     "[[folder.behavior]]\nkind = \"retention\"\nafter = \"2d\"\n"
                                     "remove_empty_dirs = true\n");
  std::string out;
  CHECK(run_folderhook({"behaviors", "--config", dir / "rules.toml", "--dry-run"}, out) == 0);
  CHECK(out == "delete " + dir / "in/sub/old.log" + "   (retention #0 of " + dir / "in" + ")\n" +
                   "rmdir " + dir / "in/sub" + "   (retention #0 of " + dir / "in" + ")\n" +
                   "2 operation(s) would be done now; nothing was changed\n");
  CHECK(exists(dir / "in/sub/old.log"));
}
