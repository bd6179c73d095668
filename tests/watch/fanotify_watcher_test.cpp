// Real-kernel scenarios only fanotify can pass: the actor of each operation (the user behind
// the process, and the interface its process names map to, through a real OpenSSH
// sftp-server), copies named by the process that read and wrote, and moves on kernels without
// FAN_RENAME. Each says SKIPPED with the reason where the kernel refuses fanotify.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "tests/support/test_user.h"
#include "tests/watch/kernel_scenario.h"

namespace folderhook::watch::testing {
namespace {

// A fifo that commands wait on (`... < gate`) so that their process is still alive when its
// events are read; release() lets them end.
class Gate {
 public:
  explicit Gate(const std::string& path) : path_(path) {
    REQUIRE(mkfifo(path.c_str(), 0666) == 0);
    REQUIRE(chmod(path.c_str(), 0666) == 0);
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // never blocks on a fifo
    REQUIRE(fd_ >= 0);
  }
  ~Gate() { ::close(fd_); }
  void release() { REQUIRE(::write(fd_, "\n", 1) == 1); }

 private:
  std::string path_;
  int fd_ = -1;
};

// Lets the test user into base, w and out (mkdtemp made base private).
void open_up(Scenario& s) {
  s.prepare("chmod 755 . && chmod 777 w out");
}

// Spawns `command`, which holds on `gate` after its operation so that its process is alive when
// the event is read; returns the first action read, once the command has been let go and ended.
FileAction first_action_held(Scenario& s, Gate& gate, const std::string& command) {
  s.spawn(command);
  REQUIRE(s.expect_raw(1).size() == 1);
  const FileAction first = s.raw().front();
  gate.release();
  s.finish();
  return first;
}

bool have_sftp() {
  return ::access("/usr/lib/openssh/sftp-server", X_OK) == 0 && ::access("/usr/bin/sftp", X_OK) == 0;
}

}  // namespace

TEST_CASE("fanotify: the background index lets the loop poll between its batches") {
  // libuv before 1.48 runs a timer re-armed at 0 ms again before it polls: an index driven that
  // way held the loop until it was built (1.6 s on 100,000 directories: no deliveries, no
  // status page, no async wake-ups). Each batch (ActionBuilder::kIndexBatch directories) must
  // be its own loop iteration.
  Scenario s(Backend::kFanotify);
  s.prepare("seq 1 2000 | sed 's|^|w/d|' | xargs mkdir");
  struct Counter {
    Scenario* scenario;
    int iterations_while_indexing = 0;
  } counter{&s};
  uv_check_t check{};
  check.data = &counter;
  uv_check_init(s.loop(), &check);
  uv_check_start(&check, [](uv_check_t* handle) {
    auto* c = static_cast<Counter*>(handle->data);
    if (c->scenario->indexing()) ++c->iterations_while_indexing;
  });
  const bool started = s.start();
  uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
  uv_run(s.loop(), UV_RUN_NOWAIT);  // the close completes while `check` still exists
  if (!started) return;
  // 2,001 directories are 8 batches of 256: at least that many iterations saw the index going.
  CHECK(counter.iterations_while_indexing >= 7);
}

TEST_CASE("fanotify: a delete by one user of a file another owns names the one who deleted") {
  Scenario s(Backend::kFanotify);
  test::TestUser user;
  if (!user.available()) return;
  s.prepare("echo a > w/a");  // owned by root
  open_up(s);
  if (!s.start()) return;
  Gate gate(s.base() + "/gate");
  const FileAction destroy = first_action_held(
      s, gate, "runuser -u " + user.name() + " -- perl -e 'unlink \"w/a\" or die; <STDIN>' < gate");
  CHECK(destroy.action == Action::kDestroy);
  CHECK(destroy.actor_username == user.name());
  CHECK(destroy.username == "root");  // the owner, as inotify would say

  s.spawn("runuser -u " + user.name() +
          " -- perl -e 'open F, \">w/b\" or die; print F \"x\"; close F; <STDIN>' < gate");
  CHECK(s.expect(2) == Lines{"destroy file w/a", "create file w/b"});
  gate.release();
  s.finish();
}

TEST_CASE("fanotify: the actor of a create is the user behind the process") {
  Scenario s(Backend::kFanotify);
  test::TestUser user;
  if (!user.available()) return;
  open_up(s);
  if (!s.start()) return;
  Gate gate(s.base() + "/gate");
  const FileAction create = first_action_held(
      s, gate,
      "runuser -u " + user.name() +
          " -- perl -e 'open F, \">w/b\" or die; print F \"x\"; close F; <STDIN>' < gate");
  CHECK(create.action == Action::kCreate);
  CHECK(create.actor_username == user.name());
  CHECK(create.username == user.name());
}

TEST_CASE("fanotify: a process gone before its event is read falls back, and the log says so") {
  Scenario s(Backend::kFanotify);
  s.prepare("echo a > w/a");
  if (!s.start()) return;
  s.prepare("rm w/a");  // the loop is not reading: rm is gone before its event is read
  REQUIRE(s.expect_raw(1).size() == 1);
  CHECK(s.raw().front().action == Action::kDestroy);
  CHECK(s.raw().front().actor_username.empty());
  CHECK(s.raw().front().actor_interface.empty());
  bool logged = false;
  for (const std::string& line : s.logs()) logged = logged || line.find("was gone") != std::string::npos;
  CHECK(logged);
}

TEST_CASE("fanotify: a gone process is logged at debug only, counted, and marked on what is reported") {
  Scenario s(Backend::kFanotify);
  s.prepare("echo a > w/a");
  if (!s.start()) return;
  // The loop is not reading: the shell that writes the temp file (never reported) and rm are
  // gone before their events are read. The kernel queue is in order: once the destroy is
  // here, the temp file's events were read before it.
  s.prepare("echo x > w/b.tmp && rm w/a");
  REQUIRE(s.expect_raw(1).size() == 1);
  CHECK(s.raw().front().action == Action::kDestroy);
  int info = 0, debug_tmp = 0;
  for (const std::string& line : s.logs()) {
    if (line.find("was gone") == std::string::npos) continue;
    if (line.rfind("info: ", 0) == 0) ++info;
    if (line.rfind("debug: ", 0) == 0 && line.find("b.tmp") != std::string::npos) ++debug_tmp;
  }
  // The info line is the agent's, for what a folder reports (it knows the rules): the action
  // carries the pid for it.
  CHECK(info == 0);
  CHECK(debug_tmp >= 1);
  CHECK(s.raw().front().actor_gone_pid > 0);
  CHECK(s.watcher().stats().actors_gone >= 2);  // the shell and rm
}

TEST_CASE("fanotify: the interface comes from the process name, else from a parent's") {
  Scenario s(Backend::kFanotify);
  if (!s.start(true, {}, {{"ftp", {"perl"}}, {"dav", {"sh"}}})) return;
  Gate gate(s.base() + "/gate");
  CHECK(first_action_held(s, gate, "perl -e 'open F, \">w/p\" or die; close F; <STDIN>' < gate")
            .actor_interface == "ftp");
  CHECK(s.expect(0) == Lines{"create file w/p"});
  // python3's own name is listed nowhere; its parent, the shell, is. It writes w/q and stays
  // alive until the gate opens, so that it is still there when its events are read.
  CHECK(first_action_held(
            s, gate,
            "/usr/bin/python3 -c \"open('w/q', 'w').write('q'); open('gate').readline()\"; true")
            .actor_interface == "dav");
  CHECK(s.expect(1) == Lines{"create file w/q"});
}

TEST_CASE("fanotify: an upload through OpenSSH's sftp-server is interface sftp, by its user") {
  if (!have_sftp()) {
    MESSAGE("SKIPPED: needs openssh-client and openssh-sftp-server");
    return;
  }
  Scenario s(Backend::kFanotify);
  test::TestUser user;
  if (!user.available()) return;
  s.prepare("head -c 200000 /dev/urandom > out/src.bin && chmod 644 out/src.bin");
  open_up(s);
  if (!s.start(true, {}, {{"sftp", {"sftp-server", "internal-sftp"}}})) return;
  Gate gate(s.base() + "/gate");
  // The session stays open (a local command waits on the gate) until the upload is seen.
  s.prepare("printf 'put out/src.bin w/up.bin\\n!read x < gate\\n' > batch && chmod 644 batch");
  const FileAction upload = first_action_held(
      s, gate,
      "runuser -u " + user.name() + " -- sftp -q -D /usr/lib/openssh/sftp-server -b batch >/dev/null");
  CHECK(upload.action == Action::kCreate);
  CHECK(upload.actor_interface == "sftp");
  CHECK(upload.actor_username == user.name());
}

TEST_CASE("fanotify: a file read and then written by the same process with equal content is a copy") {
  Scenario s(Backend::kFanotify);
  s.prepare("printf 'some content\\n' > w/a");
  if (!s.start()) return;
  // The source is closed before the copy is even created: only the pid ties them.
  s.run("perl -e 'open A, \"<w/a\"; $d = join \"\", <A>; close A; open B, \">w/b\"; print B $d; "
        "close B'");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/b"});
  s.run("perl -e 'open A, \"<w/a\"; $d = join \"\", <A>; close A; open B, \">w/c\"; print B \"x$d\"; "
        "close B'");
  CHECK(s.expect(2) == Lines{"create file w/c", "read file w/a"});
}

TEST_CASE("fanotify: without FAN_RENAME, moves pair from MOVED_FROM and MOVED_TO") {
  Scenario s(Backend::kFanotifyWithoutRename);
  s.prepare("echo a > w/a && mkdir -p w/d/sub && echo 1 > w/d/sub/f && mkdir -p out/t && echo 1 > out/t/g");
  if (!s.start()) return;
  s.run("mv w/a w/b");
  CHECK(s.expect(1) == Lines{"move file w/a -> w/b"});
  s.run("mv w/d w/n && echo 2 >> w/n/sub/f");
  CHECK(s.expect(2) == Lines{"move directory w/d -> w/n", "update file w/n/sub/f"});
  s.run("mv w/b out/b");
  CHECK(s.expect(1) == Lines{"destroy file w/b"});
  s.run("mv out/t w/t");
  CHECK(s.expect(2) == Lines{"create directory w/t", "create file w/t/g"});
}

TEST_CASE("fanotify: a tree moved in whose listings alone would fill the kernel queue does not overflow it") {
  // The builder lists a directory moved in on the loop, and each listing is two records of our
  // own (FAN_OPEN and FAN_CLOSE_NOWRITE of a directory): it sifts the queue as it walks.
  uint64_t queue = 0;
  std::ifstream("/proc/sys/fs/fanotify/max_queued_events") >> queue;
  if (queue == 0 || queue > 100'000) {
    MESSAGE("SKIPPED: fs.fanotify.max_queued_events is " << queue << ": too large a tree needed");
    return;
  }
  const uint64_t branches = queue / 100 + 1;  // twice the queue in records of our own
  Scenario s(Backend::kFanotify);
  s.prepare("mkdir out/tree && cd out/tree && for b in $(seq 1 " + std::to_string(branches) +
            "); do mkdir b$b && (cd b$b && seq 1 99 | sed 's/^/d/' | xargs mkdir); done");
  if (!s.start()) return;
  s.run("mv out/tree w/tree && touch w/after");
  const std::size_t directories = 1 + branches * 100;
  const auto& actions = s.expect_raw(directories + 1);
  const auto dirs = std::count_if(actions.begin(), actions.end(), [](const FileAction& a) {
    return a.action == Action::kCreate && a.type == ObjectType::kDirectory;
  });
  CHECK(dirs == static_cast<std::ptrdiff_t>(directories));
  CHECK(std::count_if(actions.begin(), actions.end(), [&](const FileAction& a) {
          return a.path == s.base() + "/w/after";
        }) == 1);
  CHECK(s.watcher().stats().overflows == 0);
  CHECK(s.watcher().stats().rescans == 0);
}

}  // namespace folderhook::watch::testing
