// agent.backend and [interfaces], end to end: the backend chosen and why, an explicit fanotify
// that cannot start, and a real OpenSSH sftp upload by a real user reported with that user and
// interface=sftp although the folder says "web".
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "tests/support/agent_process.h"
#include "tests/support/running_agent.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_user.h"

using namespace folderhook::test;

namespace {

std::string rules_with(const std::string& agent, const std::string& folder_path,
                       const std::string& interface = "web") {
  return "[agent]\nstate_dir = \"{STATE}\"\nstatus_listen = \"\"\n" + agent +
         "\n[[folder]]\npath = \"" + folder_path + "\"\nurls = [\"{URL}\"]\ninterface = \"" +
         interface + "\"\n";
}

}  // namespace

TEST_CASE("backend auto logs the backend it chose and why") {
  RunningAgent r(rules_with("", "{IN}"));
  const std::string log = r.agent->output();
  CHECK(log.find("\"msg\":\"watch backend\"") != std::string::npos);
  const bool fanotify = log.find("\"backend\":\"fanotify\"") != std::string::npos;
  const bool inotify = log.find("\"backend\":\"inotify\"") != std::string::npos;
  CHECK(fanotify != inotify);
  CHECK(log.find("\"reason\":\"auto: ") != std::string::npos);
}

TEST_CASE("backend inotify is used when asked, and says so") {
  RunningAgent r(rules_with("backend = \"inotify\"\n", "{IN}"));
  CHECK(r.agent->output().find("\"backend\":\"inotify\"") != std::string::npos);
  CHECK(r.agent->output().find("\"reason\":\"agent.backend = \\\"inotify\\\"\"") !=
        std::string::npos);
  write_file(r.in + "/a", "x");
  CHECK(r.nth(1).param("action") == "create");
  CHECK(r.nth(1).param("interface") == "web");
}

TEST_CASE("an explicit fanotify that cannot start exits 2 with the reason, auto falls back") {
  // procfs cannot report file handles: fanotify refuses to mark it, inotify watches it.
  RunningAgent r(rules_with("backend = \"fanotify\"\n", "/proc/sys/fs"), false);
  std::string out;
  CHECK(run_folderhook({"run", "--config", r.dir / "rules.toml"}, out) == 2);
  CHECK(out.find("agent.backend = \\\"fanotify\\\" cannot start: ") != std::string::npos);
  CHECK(out.find("cannot report file handles") != std::string::npos);

  r.write_rules(rules_with("", "/proc/sys/fs"));
  r.start();
  CHECK(r.agent->output().find("\"backend\":\"inotify\"") != std::string::npos);
  CHECK(r.agent->output().find("\"reason\":\"auto: fanotify cannot start (the filesystem of "
                               "/proc/sys/fs cannot report file handles") != std::string::npos);
}

TEST_CASE("an sftp upload by a user is reported with that user and interface sftp") {
  if (::access("/usr/lib/openssh/sftp-server", X_OK) != 0 || ::access("/usr/bin/sftp", X_OK) != 0) {
    MESSAGE("SKIPPED: needs openssh-client and openssh-sftp-server");
    return;
  }
  TestUser user;
  if (!user.available()) return;
  RunningAgent r(rules_with("backend = \"auto\"\n", "{IN}"), false);
  REQUIRE(shell("chmod 755 " + r.dir.path() + " && chmod 777 " + r.in) == 0);
  r.start();
  if (r.agent->output().find("\"backend\":\"fanotify\"") == std::string::npos) {
    MESSAGE("SKIPPED: the kernel refuses fanotify: " << r.agent->output());
    return;
  }
  write_file(r.dir / "upload.bin", std::string(100000, 'u'));
  // The session stays open until the upload has arrived: its process is alive when read.
  write_file(r.dir / "batch", "put " + r.dir / "upload.bin" + " " + r.in + "/up.bin\n!read x < " +
                                  r.dir / "gate" + "\n");
  REQUIRE(shell("chmod 644 " + r.dir / "upload.bin" + " " + r.dir / "batch" + " && mkfifo -m 666 " +
                r.dir / "gate") == 0);
  // Opens the gate even when a check fails first, so that no session is left waiting.
  struct Release {
    std::string gate;
    ~Release() {
      const int fd = ::open(gate.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) {
        (void)!::write(fd, "\n", 1);
        ::close(fd);
      }
    }
  } release{r.dir / "gate"};
  REQUIRE(shell("runuser -u " + user.name() + " -- sftp -q -D /usr/lib/openssh/sftp-server -b " +
                r.dir / "batch" + " >/dev/null 2>&1 &") == 0);
  const Webhook upload = r.nth(1);
  CHECK(upload.param("action") == "create");
  CHECK(upload.param("path") == r.in + "/up.bin");
  CHECK(upload.param("interface") == "sftp");
  CHECK(upload.param("username") == user.name());
}
