// A reload that changes the list of folders, through the real binary on both backends: a new
// folder is watched (what it held before is only indexed, what happens in it after is
// reported), a folder gone from the rules reports nothing more, and new temp_patterns apply.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/running_agent.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

using namespace folderhook::test;

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Waits until the agent's log holds `what` at least `n` times.
bool wait_for_log(const RunningAgent& r, const std::string& what, size_t n) {
  return wait_until([&] { return occurrences(r.agent->output(), what) >= n; });
}

std::string folder(const std::string& path, const std::string& extra = "") {
  return "\n[[folder]]\npath = \"" + path + "\"\nurls = [\"{URL}\"]\ninterface = \"sftp\"\n" + extra;
}

// "[agent] … [delivery]" and the folders given; one connection: deliveries arrive in order.
std::string rules(const std::string& backend, const std::vector<std::string>& folders) {
  std::string out = "[agent]\nstate_dir = \"{STATE}\"\nstatus_listen = \"\"\nbackend = \"" +
                    backend + "\"\n\n[delivery]\nretry = [\"200ms\"]\n";
  for (const std::string& f : folders) out += f;
  return out;
}

bool backend_here(const std::string& backend) {
  if (backend != "fanotify") return true;
  const int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, O_RDONLY);
  if (fd < 0) {
    MESSAGE("SKIPPED: the kernel refuses fanotify: " << std::strerror(errno));
    return false;
  }
  ::close(fd);
  return true;
}

std::string what(const Webhook& hook) {
  std::string out = hook.param("action") + " " + hook.param("path");
  if (hook.has("destination")) out += " -> " + hook.param("destination");
  return out;
}

void folders_change_on_reload(const std::string& backend) {
  if (!backend_here(backend)) return;
  RunningAgent r(rules(backend, {folder("{IN}")}), false);
  const std::string second = r.dir / "second";
  REQUIRE(shell("mkdir " + second + " && printf old > " + second + "/old.txt") == 0);
  r.start();
  REQUIRE(wait_for_log(r, "\"msg\":\"catch-up done\"", 1));

  // Not watched yet: not reported.
  write_file(second + "/before.txt", "b");
  r.write_rules(rules(backend, {folder("{IN}"), folder("{DIR}/second", "temp_patterns = [\"*.up\"]\n")}));
  REQUIRE(wait_for_log(r, "\"folders_added\":[\"" + second + "\"]", 1));
  // The new folder's catch-up: a first index, reporting nothing that was already there.
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(wait_for_log(r, "\"folders\":[\"" + second + "\"]", 1));
  const std::string log = r.agent->output();
  const size_t at = log.find("\"folders\":[\"" + second + "\"]");
  const std::string line = log.substr(log.rfind('\n', at) + 1, log.find('\n', at) - log.rfind('\n', at));
  CHECK(line.find("\"msg\":\"catch-up done\"") != std::string::npos);
  CHECK(line.find("\"reported\":0,") != std::string::npos);

  write_file(second + "/new.txt", "n");
  CHECK(what(r.nth(1)) == "create " + second + "/new.txt");
  // The new folder's temp_patterns: an upload to t.up renamed to t.dat is one create.
  REQUIRE(shell("printf t > " + second + "/t.up && mv " + second + "/t.up " + second + "/t.dat") == 0);
  CHECK(what(r.nth(2)) == "create " + second + "/t.dat");
  write_file(r.in + "/kept.txt", "k");
  CHECK(what(r.nth(3)) == "create " + r.in + "/kept.txt");

  // {IN} leaves the rules: what happens there is no one's news; second goes on.
  r.write_rules(rules(backend, {folder("{DIR}/second")}));
  REQUIRE(wait_for_log(r, "\"folders_removed\":[\"" + r.in + "\"]", 1));
  write_file(r.in + "/after.txt", "a");
  write_file(second + "/last.txt", "l");
  // In order on one connection: had after.txt been reported, it would come before last.txt.
  CHECK(what(r.nth(4)) == "create " + second + "/last.txt");
  CHECK(r.receiver.count() == 4);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

}  // namespace

TEST_CASE("inotify: a reload adds and removes folders and applies new temp_patterns") {
  folders_change_on_reload("inotify");
}
TEST_CASE("fanotify: a reload adds and removes folders and applies new temp_patterns") {
  folders_change_on_reload("fanotify");
}
