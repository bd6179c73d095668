// Real-kernel scenarios: a real uv loop and a watcher on a fresh temporary folder, real
// commands run while the loop reads, and the exact sequence of actions asserted. Every
// scenario runs against each backend (KERNEL_SCENARIO); where the kernel refuses fanotify the
// fanotify cases say SKIPPED with the reason (ctest counts them as skipped).
#include "tests/watch/kernel_scenario.h"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/watch/lines.h"
#include "watch/real_file_system.h"

namespace folderhook::watch::testing {

KERNEL_SCENARIO("echo > new file is one create when it is closed, owned by its user") {
  Scenario s(backend);
  if (!s.start()) return;
  const auto before = std::chrono::system_clock::now();
  s.run("echo hi > w/a.txt");
  const auto after = std::chrono::system_clock::now();
  REQUIRE(s.expect_raw(1).size() == 1);
  const FileAction& action = s.raw().front();
  CHECK(action.action == Action::kCreate);
  CHECK(action.type == ObjectType::kFile);
  CHECK(action.destination.empty());
  CHECK(action.username == getpwuid(geteuid())->pw_name);
  // `at` is when the kernel's record was read: after the command started, and before it ended
  // or within the loop's read gap after (a record that follows a read within a millisecond is
  // read 1-2 ms later, engine_shell.h), not at the settle deadline (kSettle, 100 ms). 50 ms
  // leaves room for a loaded machine.
  CHECK(action.at >= before);
  CHECK(action.at <= after + std::chrono::milliseconds(50));
  CHECK(s.expect(0) == Lines{"create file w/a.txt"});
}

KERNEL_SCENARIO("a create is delivered at the writer's close, without waiting for the settle window") {
  Scenario s(backend);
  s.settle = std::chrono::minutes(10);  // far beyond kDeadline: only a close-time naming arrives
  if (!s.start()) return;
  s.run("echo hi > w/a.txt");
  const auto closed = std::chrono::steady_clock::now();
  REQUIRE(s.expect_raw(1).size() == 1);
  MESSAGE("create latency after the writer closed: "
          << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - closed)
                 .count()
          << " ms");
  CHECK(s.raw().front().action == Action::kCreate);
}

KERNEL_SCENARIO("a burst is read at most twice per read gap, and every create in it is named") {
  Scenario s(backend);
  // A gap far longer than the default 1 ms, so that what it does shows whatever the machine's
  // speed: read as they came, the burst took a read every few records (thousands).
  s.read_gap = std::chrono::milliseconds(250);
  if (!s.start()) return;
  const uint64_t reads_before = s.watcher().stats().reads;
  // 3,000 creates by one process, as fast as it makes them.
  const auto start = std::chrono::steady_clock::now();
  s.run("seq -f w/f%g 3000 | xargs touch");
  REQUIRE(s.expect_raw(3000).size() == 3000);
  const auto elapsed =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  const uint64_t reads = s.watcher().stats().reads - reads_before;
  MESSAGE(reads << " reads in " << elapsed.count() << " ms");
  // Two at once, then one per gap while records keep coming (engine_shell.h, kReadsPerGap).
  CHECK(reads <= 2 * static_cast<uint64_t>(elapsed / s.read_gap + 1));
  CHECK(s.raw().back().action == Action::kCreate);
}

TEST_CASE("kernel: uids without a name are reported as digits") {
  RealFileSystem fs(-1);
  CHECK(fs.user_name(0) == "root");
  CHECK(fs.user_name(4'242'424) == "4242424");
}

KERNEL_SCENARIO("a watcher dropped without close still frees its handles in the loop") {
  if (!backend_available(backend)) return;
  const folderhook::test::TempDir folder;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::string error;
  WatchOptions options;
  options.roots.push_back({folder.path(), {}});
  auto watcher =
      start_backend(backend, &loop, options, [](std::vector<FileAction>&&) {}, {}, error);
  REQUIRE(watcher != nullptr);
  CHECK(watcher->stats().watches + watcher->stats().marks >= 1);
  watcher.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

KERNEL_SCENARIO("appending to an existing file is an update") {
  Scenario s(backend);
  s.prepare("echo a > w/e");
  if (!s.start()) return;
  s.run("echo b >> w/e");
  CHECK(s.expect(1) == Lines{"update file w/e"});
  // Written again after its close: named again, at that close.
  s.run("echo c >> w/e");
  CHECK(s.expect(1) == Lines{"update file w/e"});
}

KERNEL_SCENARIO("rm is destroy, mv is move, cat is read, ls is nothing") {
  Scenario s(backend);
  s.prepare("echo a > w/a && echo b > w/b");
  if (!s.start()) return;
  s.run("rm w/a");
  CHECK(s.expect(1) == Lines{"destroy file w/a"});
  s.run("mv w/b w/c");
  CHECK(s.expect(1) == Lines{"move file w/b -> w/c"});
  s.run("ls -la w > /dev/null && cat w/c > /dev/null");
  CHECK(s.expect(1) == Lines{"read file w/c"});
}

KERNEL_SCENARIO("mkdir -p a/b/c && echo x > a/b/c/f reports each directory and the file once") {
  Scenario s(backend);
  if (!s.start()) return;
  s.run("mkdir -p w/a/b/c && echo x > w/a/b/c/f");
  CHECK(s.expect(4) == Lines{"create directory w/a", "create directory w/a/b",
                             "create directory w/a/b/c", "create file w/a/b/c/f"});
}

KERNEL_SCENARIO("a directory moved and then written into reports the new path") {
  Scenario s(backend);
  s.prepare("mkdir -p w/d/sub && echo 1 > w/d/sub/f");
  if (!s.start()) return;
  s.run("mv w/d w/n && echo 2 >> w/n/sub/f && echo 3 > w/n/sub/g");
  CHECK(s.expect(3) ==
        Lines{"move directory w/d -> w/n", "update file w/n/sub/f", "create file w/n/sub/g"});
}

KERNEL_SCENARIO("rm -rf reports every entry, deepest first") {
  Scenario s(backend);
  s.prepare("mkdir -p w/d/s && echo 1 > w/d/s/g");
  if (!s.start()) return;
  s.run("rm -rf w/d");
  CHECK(s.expect(3) ==
        Lines{"destroy file w/d/s/g", "destroy directory w/d/s", "destroy directory w/d"});
}

KERNEL_SCENARIO("moved out is destroy, moved in, with a tree, is create parents first") {
  Scenario s(backend);
  s.prepare("echo a > w/a && mkdir -p out/t/u && echo 1 > out/t/u/f");
  if (!s.start()) return;
  s.run("mv w/a out/a");
  CHECK(s.expect(1) == Lines{"destroy file w/a"});
  s.run("mv out/t w/t");
  CHECK(s.expect(3) ==
        Lines{"create directory w/t", "create directory w/t/u", "create file w/t/u/f"});
}

KERNEL_SCENARIO("cp, cp -p, install and cat a > b inside the folder are copies") {
  Scenario s(backend);
  s.prepare("printf 'some content\\n' > w/a");
  if (!s.start()) return;
  s.run("cp w/a w/b");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/b"});
  s.run("cp -p w/a w/p");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/p"});
  s.run("install w/a w/i");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/i"});
  s.run("cat w/a > w/c");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/c"});
}

KERNEL_SCENARIO("cp -r creates the directory and copies each file") {
  Scenario s(backend);
  s.prepare("mkdir -p w/d && echo one > w/d/f");
  if (!s.start()) return;
  s.run("cp -r w/d w/d2");
  CHECK(s.expect(2) == Lines{"create directory w/d2", "copy file w/d/f -> w/d2/f"});
}

KERNEL_SCENARIO("an equal-size file written while another is read is not a copy") {
  Scenario s(backend);
  s.prepare("printf aaaa > w/a");
  if (!s.start()) return;
  s.run("exec 3< w/a; printf bbbb > w/b; exec 3<&-");
  CHECK(s.expect(2) == Lines{"create file w/b", "read file w/a"});
}

KERNEL_SCENARIO("a file copied in from outside is a create") {
  Scenario s(backend);
  s.prepare("echo x > out/x");
  if (!s.start()) return;
  s.run("cp -p out/x w/x");
  CHECK(s.expect(1) == Lines{"create file w/x"});
}

KERNEL_SCENARIO("rsync uploads through a temp name: one create for the final name") {
  Scenario s(backend);
  s.prepare("head -c 100000 /dev/urandom > out/up.bin && echo old > w/old.bin");
  if (!s.start()) return;
  s.run("rsync out/up.bin w/up.bin");
  CHECK(s.expect(1) == Lines{"create file w/up.bin"});
  s.run("rsync out/up.bin w/old.bin");
  CHECK(s.expect(1) == Lines{"update file w/old.bin"});
  s.run("printf new > w/f.tmp && mv w/f.tmp w/f");
  CHECK(s.expect(1) == Lines{"create file w/f"});
}

KERNEL_SCENARIO("hard links and symlinks are created, symlinks are not followed") {
  Scenario s(backend);
  s.prepare("echo a > w/a && mkdir w/dir");
  if (!s.start()) return;
  s.run("ln w/a w/h");
  CHECK(s.expect(1) == Lines{"create file w/h"});
  s.run("ln -s . w/dir/loop");
  CHECK(s.expect(1) == Lines{"create file w/dir/loop"});
  CHECK(s.watcher().stats().watches == 2);
}

KERNEL_SCENARIO("a deleted root is destroyed and watched again when it reappears") {
  Scenario s(backend);
  s.prepare("echo a > w/a");
  if (!s.start()) return;
  s.run("rm -rf w");
  CHECK(s.expect(2) == Lines{"destroy file w/a", "destroy directory w"});
  s.run("mkdir w");
  CHECK(s.expect(1) == Lines{"create directory w"});
  s.run("echo n > w/n");
  CHECK(s.expect(1) == Lines{"create file w/n"});
}

KERNEL_SCENARIO("a root missing at start is logged and picked up when it appears") {
  Scenario s(backend);
  if (!s.start(false)) return;
  REQUIRE_FALSE(s.logs().empty());
  CHECK(s.logs()[0].rfind("warn: ", 0) == 0);
  s.run("mkdir w");
  CHECK(s.expect(1) == Lines{"create directory w"});
  s.run("echo n > w/n");
  CHECK(s.expect(1) == Lines{"create file w/n"});
}

KERNEL_SCENARIO("moves between two roots are moves, and a nested root is watched once") {
  Scenario s(backend);
  if (!s.start(true, {"w2", "w/nested"})) return;
  CHECK(s.watcher().stats().watches == 3);  // w, w/nested, w2
  s.run("echo a > w/a");
  CHECK(s.expect(1) == Lines{"create file w/a"});
  s.run("mv w/a w2/a && mv w2/a w/nested/a");
  CHECK(s.expect(2) == Lines{"move file w/a -> w2/a", "move file w2/a -> w/nested/a"});
}

KERNEL_SCENARIO("a queue overflow is logged, counted and handed to the rescan hook") {
  Scenario s(backend);
  if (!s.start()) return;
  // The loop is not reading while these run. inotify: one OPEN and one CLOSE_NOWRITE per open
  // of w/a overflow the kernel queue (fs.inotify.max_queued_events). fanotify merges those
  // (same file, same process): one FAN_RENAME per rename to a new name does it instead.
  std::ifstream limit_file(s.fanotify() ? "/proc/sys/fs/fanotify/max_queued_events"
                                        : "/proc/sys/fs/inotify/max_queued_events");
  long limit = 16384;
  limit_file >> limit;
  if (s.fanotify()) {
    s.prepare("echo a > w/f0 && perl -e 'rename \"w/f\" . ($_ - 1), \"w/f$_\" or die for 1.." +
              std::to_string(limit + 1000) + "'");
  } else {
    s.prepare("echo a > w/a && i=0 && while [ $i -lt " + std::to_string(limit / 2 + 1000) +
              " ]; do : < w/a; i=$((i+1)); done");
  }
  s.wait_for([&] { return s.watcher().stats().overflows >= 1; });
  CHECK(s.watcher().stats().overflows >= 1);
  CHECK(s.overflow_hooks() >= 1);
  bool logged = false;
  for (const std::string& line : s.logs()) {
    logged = logged || line.find("overflow") != std::string::npos;
  }
  CHECK(logged);
}

}  // namespace folderhook::watch::testing
