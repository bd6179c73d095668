// The command line's contract: exit codes and one clear line for every kind of bad input.
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/support/agent_process.h"
#include "tests/support/temp_dir.h"

using namespace folderhook::test;

namespace {

std::string rules(const std::string& state_dir, const std::string& folder, const std::string& url) {
  return "[agent]\nstate_dir = \"" + state_dir + "\"\n\n[[folder]]\npath = \"" + folder +
         "\"\nurls = [\"" + url + "\"]\ninterface = \"sftp\"\n";
}

// Makes the folder `in` in `dir` and writes dir/rules.toml watching it, state in dir/state;
// returns the rules file's path.
std::string rules_in(const TempDir& dir, const std::string& url) {
  shell("mkdir " + dir / "in");
  write_file(dir / "rules.toml", rules(dir / "state", dir / "in", url));
  return dir / "rules.toml";
}

}  // namespace

TEST_CASE("--version prints the version and exits 0") {
  std::string out;
  CHECK(run_folderhook({"--version"}, out) == 0);
  CHECK(out.rfind("folderhook 0.", 0) == 0);
}

TEST_CASE("--help on each command exits 0 and names its options") {
  for (const std::string command : {"run", "check", "listen"}) {
    std::string out;
    CAPTURE(command);
    CHECK(run_folderhook({command, "--help"}, out) == 0);
    CHECK(out.find(command == "listen" ? "--port" : "--config") != std::string::npos);
  }
}

TEST_CASE("check accepts a valid rules file with a one-line summary") {
  TempDir dir;
  rules_in(dir, "http://127.0.0.1:1/hook");
  std::string out;
  CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 0);
  CHECK(out == dir / "rules.toml" + ": ok, 1 folder(s), 1 url(s), state in " + dir / "state" + "\n");
}

TEST_CASE("check accepts the sample etc/rules.toml that ./dev demo runs") {
  // Its paths are relative to the working directory, as when ./dev demo runs it.
  TempDir dir;
  shell("mkdir " + dir / "demo");
  const int code = shell("cd " + dir.path() + " && " + FOLDERHOOK_BINARY + " check --config " +
                         SAMPLE_RULES + " > " + dir / "out" + " 2>&1");
  CHECK(code == 0);
  CHECK(read_file(dir / "out") == std::string(SAMPLE_RULES) + ": ok, 1 folder(s), 1 url(s), " +
                                      "state in " + dir / ".folderhook" + "\n");
}

TEST_CASE("a missing rules file ends check and run with exit 2 and the reason") {
  TempDir dir;
  for (const std::string command : {"check", "run"}) {
    std::string out;
    CHECK(run_folderhook({command, "--config", dir / "nope.toml"}, out) == 2);
    CHECK(out == dir / "nope.toml" + ": cannot read the rules file: No such file or directory\n");
  }
}

TEST_CASE("a malformed rules file names the line and column") {
  TempDir dir;
  write_file(dir / "rules.toml", "[agent]\nstate_dir = \"x\"\n[[folder]\n");
  for (const std::string command : {"check", "run"}) {
    std::string out;
    CHECK(run_folderhook({command, "--config", dir / "rules.toml"}, out) == 2);
    CHECK(out.rfind(dir / "rules.toml" + ":3:", 0) == 0);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  }
}

TEST_CASE("a folder path that does not exist is refused with its line") {
  TempDir dir;
  write_file(dir / "rules.toml", rules(dir / "state", dir / "no/such/dir", "http://127.0.0.1:1/h"));
  for (const std::string command : {"check", "run"}) {
    std::string out;
    CHECK(run_folderhook({command, "--config", dir / "rules.toml"}, out) == 2);
    CHECK(out == dir / "rules.toml" + ":4:1: folder path '" + dir / "no/such/dir" +
                     "' does not exist\n");
  }
}

TEST_CASE("check keeps each message on one line when a path holds a newline or an escape") {
  TempDir dir;
  // TOML's escapes: the folder's name holds a real newline and ESC (the start of a terminal
  // control sequence); its parent exists, so it is a warning and check still passes.
  write_file(dir / "rules.toml",
             rules(dir / "state", dir / "in\\nx\\u001b[2J", "http://127.0.0.1:1/h"));
  std::string out;
  CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 0);
  CHECK(out == dir / "rules.toml" + ": warning: folder path '" + dir / "in\\nx\\x1B[2J" +
                   "' does not exist yet; it will be watched when it appears\n" +
                   dir / "rules.toml" + ": ok, 1 folder(s), 1 url(s), state in " +
                   dir / "state" + "\n");
}

TEST_CASE("status and test-hook keep an error on one line when a path holds a newline or an escape") {
  TempDir dir;
  write_file(dir / "rules.toml",
             rules(dir / "st\\nx\\u001b[2J", dir / "in", "http://127.0.0.1:1/h"));
  std::string out;
  CHECK(run_folderhook({"status", "--config", dir / "rules.toml"}, out) == 2);
  CAPTURE(out);
  CHECK(out.find("cannot read the state in " + dir / "st\\nx\\x1B[2J: ") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(out.back() == '\n');
  CHECK(run_folderhook({"test-hook", "--config", dir / "rules.toml", dir / "other\nfolder"}, out) ==
        2);
  CAPTURE(out);
  CHECK(out.find("'" + dir / "other\\nfolder' is not a folder of") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("a URL that does not parse is refused with its line and column") {
  TempDir dir;
  rules_in(dir, "http//missing-colon/hook");
  std::string out;
  CHECK(run_folderhook({"run", "--config", dir / "rules.toml"}, out) == 2);
  CHECK(out.rfind(dir / "rules.toml" + ":6:8: folder.urls: 'http//missing-colon/hook' is not a "
                                        "usable URL",
                  0) == 0);
}

TEST_CASE("a state_dir that cannot be created is refused") {
  TempDir dir;
  shell("mkdir " + dir / "in");
  write_file(dir / "file", "not a directory");
  write_file(dir / "rules.toml", rules(dir / "file/state", dir / "in", "http://127.0.0.1:1/h"));
  std::string out;
  CHECK(run_folderhook({"run", "--config", dir / "rules.toml"}, out) == 2);
  CHECK(out.find("agent.state_dir '" + dir / "file/state" + "'") != std::string::npos);
  CHECK(out.find("is not a directory") != std::string::npos);
}

TEST_CASE("relay's command line: --help exits 0, a missing --config or an unknown option exits 2") {
  std::string out;
  CHECK(run_folderhook({"relay", "--help"}, out) == 0);
  CHECK(out.find("--config") != std::string::npos);
  CHECK(run_folderhook({"relay"}, out) == 2);
  CHECK(out.find("--config is required") != std::string::npos);
  CHECK(run_folderhook({"relay", "--frobnicate"}, out) == 2);
}

TEST_CASE("an unknown command or option exits 2 with usage, not a crash") {
  std::string out;
  CHECK(run_folderhook({"frobnicate"}, out) == 2);
  CHECK(run_folderhook({"run"}, out) == 2);
  CHECK(out.find("--config is required") != std::string::npos);
}
