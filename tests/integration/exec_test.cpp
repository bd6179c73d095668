// exec: URLs through the real binary: real programs (small shell scripts in the test's
// directory) run by the agent for real operations on a real folder. What a program receives
// (environment and stdin, exactly), retries, the timeout that kills a process group, stderr as
// the error, an HTTP URL standing in for a failing program, `connections` as a limit, and what
// `check` refuses.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/no_loss.h"
#include "tests/support/running_agent.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using nlohmann::json;

namespace {

// rules_template with `urls` (TOML, without brackets) in place of the receiver's URL.
std::string exec_rules(const std::string& urls, const std::string& delivery = "") {
  std::string rules = rules_template(delivery);
  const std::string from = "urls = [\"{URL}\"]";
  rules.replace(rules.find(from), from.size(), "urls = [" + urls + "]");
  return rules;
}

// An executable shell script at `path`.
void exec_script(const std::string& path, const std::string& body) {
  write_file(path, "#!/bin/sh\n" + body + "\n");
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

// The `delivery` lines with this outcome.
std::vector<json> outcomes(RunningAgent& r, const std::string& outcome) {
  std::vector<json> out;
  for (auto& line : no_loss::log_lines(r.agent->output(), "delivery")) {
    if (line["outcome"] == outcome) out.push_back(line);
  }
  return out;
}

// A script body whose `first` lines run only the first time (while `marker` cannot be made yet).
std::string on_first_run(const std::string& marker, const std::string& first) {
  return "if mkdir " + marker + " 2>/dev/null; then\n" + first + "fi\n";
}

// Starts the agent, writes a file into its folder, and waits until the program got it through;
// the two `delivery` lines it takes: a retry, then the delivery.
std::vector<json> retried_then_delivered(RunningAgent& r) {
  r.start();
  write_file(r.in + "/a.txt", "x");
  REQUIRE_MESSAGE(wait_until([&] { return outcomes(r, "delivered").size() == 1; }),
                  "agent log:\n" << r.agent->output());
  auto lines = no_loss::log_lines(r.agent->output(), "delivery");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["outcome"] == "retry");
  CHECK(lines[1]["outcome"] == "delivered");
  return lines;
}

// /proc/PID/environ: NAME=value entries, NUL-separated, exactly as the program got them.
std::vector<std::string> environ_entries(const std::string& bytes) {
  std::vector<std::string> out;
  size_t begin = 0;
  for (size_t end; (end = bytes.find('\0', begin)) != std::string::npos; begin = end + 1) {
    out.push_back(bytes.substr(begin, end - begin));
  }
  return out;
}

// The process is gone, or a zombie left for init (it was in the killed group).
bool gone(const std::string& pid) {
  const std::string stat = read_file("/proc/" + pid + "/stat");
  return stat.empty() || stat.find(") Z ") != std::string::npos;
}

}  // namespace

TEST_CASE(
    "exec: create, move and destroy run the program with the fields in its environment and the "
    "JSON on stdin, exactly") {
  TempDir scripts;
  const std::string runs = scripts / "runs";
  // The program records its whole environment as it was exec'd, its stdin, and the base64 of
  // FOLDERHOOK_PATH's bytes (to compare with the JSON's path_base64).
  exec_script(scripts / "hook.sh",
              "out=" + runs +
                  "/$FOLDERHOOK_ACTION\n"
                  "cat /proc/$$/environ > \"$out.env\"\n"
                  "printf '%s' \"$FOLDERHOOK_PATH\" | base64 -w0 > \"$out.b64\"\n"
                  "cat > \"$out.stdin\"");
  shell("mkdir " + runs);
  RunningAgent r(exec_rules("\"exec:" + scripts / "hook.sh\""), /*start_now=*/false);
  r.start();
  INFO("agent log:\n" << r.agent->output());
  const std::string name = r.in + "/a\nb\xff.txt";
  write_file(name, "x");
  REQUIRE(wait_until([&] { return outcomes(r, "delivered").size() == 1; }));
  REQUIRE(std::rename(name.c_str(), (r.in + "/c d.txt").c_str()) == 0);
  REQUIRE(wait_until([&] { return outcomes(r, "delivered").size() == 2; }));
  REQUIRE(::unlink((r.in + "/c d.txt").c_str()) == 0);
  REQUIRE(wait_until([&] { return outcomes(r, "delivered").size() == 3; }));
  const auto delivered = outcomes(r, "delivered");

  const char* actions[] = {"create", "move", "destroy"};
  for (size_t i = 0; i < 3; ++i) {
    const std::string action = actions[i];
    CAPTURE(action);
    const auto env = environ_entries(read_file(runs + "/" + action + ".env"));
    const json in = json::parse(read_file(runs + "/" + action + ".stdin"));
    CHECK(read_file(runs + "/" + action + ".stdin").back() == '\n');
    CHECK(delivered[i]["action"] == action);
    CHECK(delivered[i]["url"] == "exec:" + scripts / "hook.sh");
    // Exactly these variables, in this order: nothing of the agent's environment.
    std::vector<std::string> names;
    for (const auto& e : env) names.push_back(e.substr(0, e.find('=')));
    std::vector<std::string> expected = {"PATH", "FOLDERHOOK_ID", "FOLDERHOOK_ACTION",
                                         "FOLDERHOOK_INTERFACE", "FOLDERHOOK_PATH"};
    if (action == "move") expected.push_back("FOLDERHOOK_DESTINATION");
    for (const char* n : {"FOLDERHOOK_AT", "FOLDERHOOK_USERNAME", "FOLDERHOOK_TYPE"}) {
      expected.push_back(n);
    }
    REQUIRE(names == expected);
    CHECK(env[0] == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    CHECK(env[1] == "FOLDERHOOK_ID=" + delivered[i]["id"].get<std::string>());
    CHECK(env[2] == "FOLDERHOOK_ACTION=" + action);
    CHECK(env[3] == "FOLDERHOOK_INTERFACE=sftp");
    const std::string path = action == "destroy" ? r.in + "/c d.txt" : name;
    CHECK(env[4] == "FOLDERHOOK_PATH=" + path);
    if (action == "move") CHECK(env[5] == "FOLDERHOOK_DESTINATION=" + r.in + "/c d.txt");
    const size_t at = env.size() - 3;
    CHECK(env[at] == "FOLDERHOOK_AT=" + in["at"].get<std::string>());
    CHECK(in["at"].get<std::string>().size() == 25);
    CHECK(env[at + 1] == "FOLDERHOOK_USERNAME=" + in["username"].get<std::string>());
    CHECK(env[at + 2] == "FOLDERHOOK_TYPE=file");
    // stdin: the same JSON object as POST and NATS; bytes that are not UTF-8 as U+FFFD, with
    // the exact bytes in <field>_base64.
    CHECK(in["action"] == action);
    CHECK(in["interface"] == "sftp");
    CHECK(in["type"] == "file");
    if (action == "destroy") {
      CHECK(in["path"] == path);
      CHECK_FALSE(in.contains("path_base64"));
    } else {
      CHECK(in["path"] == r.in + "/a\nb\xef\xbf\xbd.txt");
      CHECK(in["path_base64"] == read_file(runs + "/" + action + ".b64"));
    }
    CHECK(in.contains("destination") == (action == "move"));
  }
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE(
    "exec: a program that exits 1 is retried with the same id and delivered when it exits 0, with its "
    "stderr as the error") {
  TempDir scripts;
  const std::string first_id = scripts / "first-id";
  exec_script(scripts / "hook.sh",
              on_first_run(scripts / "failed-once",
                           "  printf 'cannot reach the archive\\nsecond line\\n' >&2\n"
                           "  echo \"$FOLDERHOOK_ID\" > " + first_id + "\n  exit 1\n") +
                  "echo \"$FOLDERHOOK_ID\" >> " + scripts / "delivered");
  RunningAgent r(exec_rules("\"exec:" + scripts / "hook.sh\"", "retry = [\"300ms\"]\n"),
                 /*start_now=*/false);
  const auto lines = retried_then_delivered(r);
  CHECK(lines[0]["attempt"] == 1);
  CHECK(lines[0]["status"] == 0);
  CHECK(lines[0]["error"] == "exit status 1: cannot reach the archive second line");
  CHECK(lines[1]["attempt"] == 2);
  CHECK(lines[1]["error"] == "");
  CHECK(lines[1]["id"] == lines[0]["id"]);
  CHECK(read_file(first_id) == lines[0]["id"].get<std::string>() + "\n");
  CHECK(read_file(scripts / "delivered") == lines[0]["id"].get<std::string>() + "\n");
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE(
    "exec: a program still running after the timeout is killed with its process group and "
    "retried") {
  TempDir scripts;
  // The sleep's pid is written under another name, then renamed: read whole or not at all.
  const std::string sleep_pid = scripts / "sleep";
  exec_script(scripts / "hook.sh",
              on_first_run(scripts / "hung", "  echo hanging >&2\n  sleep 300 &\n  echo $! > " +
                                                 sleep_pid + ".new\n  echo $$ > " +
                                                 scripts / "leader" + "\n  mv " + sleep_pid +
                                                 ".new " + sleep_pid + "\n  wait\n") +
                  "exit 0");
  RunningAgent r(
      exec_rules("\"exec:" + scripts / "hook.sh\"", "timeout = \"1s\"\nretry = [\"300ms\"]\n"),
      /*start_now=*/false);
  const auto lines = retried_then_delivered(r);
  CHECK(lines[0]["error"] == "still running after 1000 ms: killed with its process group: hanging");
  CHECK(lines[0]["ms"].get<int64_t>() >= 1000);
  CHECK(lines[0]["ms"].get<int64_t>() < 5000);
  // The program (reaped by the agent) and the sleep it left in its group are both gone.
  CHECK(wait_until([&] {
    return gone(read_file(scripts / "sleep").substr(0, read_file(scripts / "sleep").find('\n')));
  }));
  const std::string leader = read_file(scripts / "leader");
  CHECK(read_file("/proc/" + leader.substr(0, leader.find('\n')) + "/stat").empty());
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE(
    "exec: a failing exec primary with an HTTP redundant URL is delivered over HTTP with the same "
    "id") {
  TempDir scripts;
  exec_script(scripts / "hook.sh",
              "echo \"$FOLDERHOOK_ID\" > " + scripts /
                                                 "id\n"
                                                 "echo 'archive offline' >&2\nexit 3");
  RunningAgent r(exec_rules("\"exec:" + scripts / "hook.sh\", \"{URL}\""), /*start_now=*/false);
  r.start();
  write_file(r.in + "/a.txt", "x");
  const Webhook hook = r.nth(1);
  INFO("agent log:\n" << r.agent->output());
  CHECK(hook.param("action") == "create");
  CHECK(hook.param("path") == r.in + "/a.txt");
  CHECK(read_file(scripts / "id") == hook.header("webhook-id") + "\n");
  REQUIRE(wait_until([&] { return outcomes(r, "delivered").size() == 1; }));
  const json line = outcomes(r, "delivered").front();
  CHECK(line["url"] == r.receiver.url());
  CHECK(line["id"] == hook.header("webhook-id"));
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("exec: at most `connections` programs run at once for a folder, retries included") {
  TempDir scripts;
  // Each run takes the lowest free slot (mkdir is atomic): the highest slot ever taken is the
  // most that ran at once, minus one. Each first attempt fails, so retries (on their own
  // threads) overlap with first attempts.
  exec_script(scripts / "hook.sh",
              "i=0\n"
              "while ! mkdir " +
                  scripts / "slot.$i" +
                  " 2>/dev/null; do i=$((i+1)); done\n"
                  "echo $i >> " +
                  scripts /
                      "slots\n"
                      "sleep 0.3\n"
                      "rmdir " +
                  scripts /
                      "slot.$i\n"
                      "if mkdir " +
                  scripts / "seen.$FOLDERHOOK_ID" +
                  " 2>/dev/null; then exit 1; fi\n"
                  "exit 0");
  RunningAgent r(exec_rules("\"exec:" + scripts / "hook.sh\"",
                            "connections = 3\nretry = [\"50ms\", \"50ms\", \"50ms\"]\n"),
                 /*start_now=*/false);
  r.start();
  INFO("agent log:\n" << r.agent->output());
  for (int i = 0; i < 12; ++i) write_file(r.in + "/f" + std::to_string(i), "x");
  REQUIRE(
      wait_until([&] { return outcomes(r, "delivered").size() == 12; }, std::chrono::seconds(30)));
  std::istringstream slots(read_file(scripts / "slots"));
  int most = -1;
  int runs = 0;
  for (int slot; slots >> slot; ++runs) most = std::max(most, slot);
  CHECK(runs == 24);
  CHECK(most == 2);  // three at once, never four
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE(
    "check refuses an exec: URL whose program is relative, missing or not executable, at its "
    "line") {
  TempDir dir;
  shell("mkdir " + dir / "in");
  write_file(dir / "plain.sh", "#!/bin/sh\n");
  REQUIRE(::chmod((dir / "plain.sh").c_str(), 0644) == 0);
  const std::string head = "[agent]\nstate_dir = \"" + dir / "state" +
                           "\"\n\n[[folder]]\npath = \"" + dir / "in" + "\"\n";
  const std::pair<std::string, std::string> cases[] = {
      {"[\"exec:hook.sh\"]",
       "'exec:hook.sh' is not a usable URL: the program 'hook.sh' is not an absolute path "
       "(write exec:/full/path/to/program; no shell, no PATH search)"},
      {"[\"exec:" + dir / "missing.sh\"]",
       "'exec:" + dir / "missing.sh" + "' is not a usable URL: the program '" + dir / "missing.sh" +
           "' cannot be found: No such file or directory"},
      {"[\"exec:" + dir / "plain.sh\"]", "'exec:" + dir / "plain.sh" +
                                             "' is not a usable URL: the program '" +
                                             dir / "plain.sh" + "' is not executable (mode 0644)"},
      // In a comma-separated string, an exec: URL after a NATS one is a URL of its own.
      {"\"nats://127.0.0.1:4222/files, exec:" + dir / "missing.sh\"",
       "'exec:" + dir / "missing.sh" + "' is not a usable URL: the program '" + dir / "missing.sh" +
           "' cannot be found: No such file or directory"},
  };
  for (const auto& [urls, why] : cases) {
    CAPTURE(urls);
    write_file(dir / "rules.toml", head + "urls = " + urls + "\n");
    std::string out;
    CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 2);
    CHECK(out == dir / "rules.toml" + ":6:8: folder.urls: " + why + "\n");
  }
}

TEST_CASE("exec: test-hook runs the program with FOLDERHOOK_TEST=1 and prints its outcome") {
  TempDir scripts;
  exec_script(scripts / "hook.sh", "echo \"$FOLDERHOOK_TEST $FOLDERHOOK_PATH\" > " +
                                       scripts /
                                           "ran\n"
                                           "[ -e " +
                                       scripts / "fail" +
                                       " ] && { echo broken >&2; exit 4; }\nexit 0");
  RunningAgent r(exec_rules("\"exec:" + scripts / "hook.sh\""), /*start_now=*/false);
  std::string out;
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 0);
  CHECK(out.rfind("exec:" + scripts / "hook.sh: exit status 0 in ", 0) == 0);
  CHECK(out.find(" ms, accepted\n") != std::string::npos);
  CHECK(read_file(scripts / "ran") == "1 " + r.in + "/folderhook-test-hook.txt\n");
  write_file(scripts / "fail", "");
  CHECK(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 1);
  CHECK(out.rfind("exec:" + scripts / "hook.sh: failed in ", 0) == 0);
  CHECK(out.find(" ms: exit status 4: broken\n") != std::string::npos);
}

TEST_CASE(
    "exec: a stop kills a program still running with its group and the operation runs again at the "
    "next start with its id") {
  TempDir scripts;
  exec_script(scripts / "hook.sh", "echo \"$FOLDERHOOK_ID\" >> " +
                                       scripts /
                                           "ids\n"
                                           "if mkdir " +
                                       scripts / "hung" +
                                       " 2>/dev/null; then\n"
                                       "  sleep 300 &\n"
                                       "  echo $! > " +
                                       scripts /
                                           "sleep.new\n"
                                           "  mv " +
                                       scripts / "sleep.new " +
                                       scripts /
                                           "sleep\n"
                                           "  wait\n"
                                           "fi\n"
                                           "exit 0");
  RunningAgent r(exec_rules("\"exec:" + scripts / "hook.sh\"", "timeout = \"60s\"\n"),
                 /*start_now=*/false);
  r.start();
  write_file(r.in + "/a.txt", "x");
  REQUIRE(wait_until([&] { return !read_file(scripts / "sleep").empty(); }));
  const std::string sleep_pid =
      read_file(scripts / "sleep").substr(0, read_file(scripts / "sleep").find('\n'));
  const auto stop_at = std::chrono::steady_clock::now();
  CHECK(r.agent->stop(SIGTERM) == 0);
  // The lane's grace for attempts in flight, then the program and its group are killed.
  CHECK(std::chrono::steady_clock::now() - stop_at < std::chrono::seconds(8));
  CHECK(wait_until([&] { return gone(sleep_pid); }));
  CHECK(no_loss::log_lines(r.agent->output(), "delivery").empty());
  r.start();
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(wait_until([&] { return outcomes(r, "delivered").size() == 1; }));
  const std::string id = outcomes(r, "delivered").front()["id"];
  CHECK(read_file(scripts / "ids") == id + "\n" + id + "\n");
  CHECK(r.agent->stop(SIGTERM) == 0);
}
