#include "watch/process_info.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

namespace folderhook::watch {

TEST_CASE("process info: Name, PPid and the real uid come from /proc/PID/status") {
  const auto info = parse_proc_status(
      "Name:\tsftp-server\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\nPid:\t812\n"
      "PPid:\t811\nUid:\t1001\t0\t0\t0\nGid:\t100\t100\t100\t100\n");
  REQUIRE(info.has_value());
  CHECK(info->comm == "sftp-server");
  CHECK(info->ppid == 811);
  CHECK(info->uid == 1001);  // real, not effective
  CHECK_FALSE(parse_proc_status("Name:\tx\nPPid:\t1\n").has_value());
  CHECK_FALSE(parse_proc_status("").has_value());
}

TEST_CASE("process info: the actor's own name wins over its parents', in map order") {
  const InterfaceMap map = {{"sftp", {"sftp-server"}}, {"web", {"apache2", "nginx"}}};
  CHECK(match_interface({{"nginx", "", 2, 0}}, map) == "web");
  CHECK(match_interface({{"python3", "", 2, 0}, {"apache2", "", 1, 0}}, map) == "web");
  CHECK(match_interface({{"sh", "sftp-server", 2, 0}}, map) == "sftp");  // by executable name
  CHECK(match_interface({{"cp", "cp", 3, 0}, {"bash", "bash", 2, 0}}, map).empty());
  CHECK(match_interface({}, map).empty());
}

TEST_CASE("process info: a live process resolves to its user, a gone one says so") {
  ActorResolver resolver({{"restapi", {"watch_tests"}}}, [](uid_t uid) {
    return uid == 0 ? std::string("root") : std::to_string(uid);
  });
  bool gone = true;
  const Actor self = resolver.resolve(::getpid(), gone);
  CHECK_FALSE(gone);
  CHECK(self.pid == ::getpid());
  CHECK(self.username == (::getuid() == 0 ? "root" : std::to_string(::getuid())));
  CHECK(self.interface == "restapi");
  const Actor nobody = resolver.resolve(0x3fffffff, gone);  // above any pid_max
  CHECK(gone);
  CHECK(nobody.username.empty());
}

namespace {

// A /proc/PID/status of a fake /proc under `root`.
void fake_status(const std::string& root, int pid, const std::string& name, int ppid, uid_t uid) {
  std::filesystem::create_directories(root + "/" + std::to_string(pid));
  std::ofstream(root + "/" + std::to_string(pid) + "/status")
      << "Name:\t" << name << "\nUmask:\t0022\nState:\tS (sleeping)\nPPid:\t" << ppid
      << "\nUid:\t" << uid << "\t" << uid << "\t" << uid << "\t" << uid << "\n";
}

}  // namespace

TEST_CASE("process info: a burst from one process reads its own entry, not its chain, per batch") {
  folderhook::test::TempDir proc;
  fake_status(proc.path(), 300, "sftp-server", 200, 1000);
  fake_status(proc.path(), 200, "sshd", 100, 0);
  fake_status(proc.path(), 100, "sshd", 1, 0);
  ActorResolver resolver({{"sftp", {"sshd"}}}, [](uid_t uid) { return "u" + std::to_string(uid); },
                         proc.path());
  // Batches kReuse apart: each reads the entry again (the parents are fresh for a second).
  auto at = std::chrono::steady_clock::now();
  resolver.new_batch(at);
  bool gone = true;
  CHECK(resolver.resolve(300, gone).interface == "sftp");
  CHECK(resolver.proc_reads() == 3);  // itself and two parents
  for (int batch = 0; batch < 100; ++batch) {
    at += ActorResolver::kReuse;
    resolver.new_batch(at);
    const Actor actor = resolver.resolve(300, gone);
    CHECK_FALSE(gone);
    CHECK(actor.interface == "sftp");
    CHECK(actor.username == "u1000");
  }
  CHECK(resolver.proc_reads() == 3 + 100);
  // A change of its own (setuid, exec) is seen in the next batch, with its chain read again.
  fake_status(proc.path(), 300, "sftp-server", 200, 1001);
  at += ActorResolver::kReuse;
  resolver.new_batch(at);
  CHECK(resolver.resolve(300, gone).username == "u1001");
  CHECK(resolver.proc_reads() == 103 + 3);
  fake_status(proc.path(), 300, "bash", 1, 1001);  // exec'd, reparented to init
  at += ActorResolver::kReuse;
  resolver.new_batch(at);
  CHECK(resolver.resolve(300, gone).interface.empty());
}

TEST_CASE("process info: reads in quick succession share one lookup, a later one looks again") {
  folderhook::test::TempDir proc;
  fake_status(proc.path(), 300, "sftp-server", 200, 1000);
  fake_status(proc.path(), 200, "sshd", 1, 0);
  ActorResolver resolver({{"sftp", {"sshd"}}}, [](uid_t uid) { return "u" + std::to_string(uid); },
                         proc.path());
  const auto start = std::chrono::steady_clock::now();
  resolver.new_batch(start);
  bool gone = true;
  CHECK(resolver.resolve(300, gone).username == "u1000");
  const std::size_t first = resolver.proc_reads();
  CHECK(first == 2);
  // 1,000 reads within kReuse of the first batch (a burst read a few events at a time): no
  // /proc entry read again, even though the process has changed its uid meanwhile.
  fake_status(proc.path(), 300, "sftp-server", 200, 1001);
  for (int i = 0; i < 1000; ++i) {
    resolver.new_batch(start + ActorResolver::kReuse * i / 1000);
    CHECK(resolver.resolve(300, gone).username == "u1000");
  }
  CHECK(resolver.proc_reads() == first);
  // kReuse after the first: looked up again, and the change is seen.
  resolver.new_batch(start + ActorResolver::kReuse);
  CHECK(resolver.resolve(300, gone).username == "u1001");
  CHECK(resolver.proc_reads() > first);
  // A process gone within the reuse keeps the actor it had.
  std::filesystem::remove_all(proc.path() + "/300");
  resolver.new_batch(start + ActorResolver::kReuse + ActorResolver::kReuse / 2);
  CHECK(resolver.resolve(300, gone).username == "u1001");
  CHECK_FALSE(gone);
}

}  // namespace folderhook::watch
