// Real-kernel scenarios: a real uv loop and start_inotify_watcher on a fresh temporary folder,
// real commands run while the loop reads, and the exact sequence of actions asserted.
#include "watch/watcher.h"

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

namespace folderhook::watch {
namespace {

using Lines = std::vector<std::string>;
using std::chrono::milliseconds;

constexpr milliseconds kSettle{100};
constexpr milliseconds kPairing{100};
// After the expected actions arrived, keep reading this long to catch any extra one.
constexpr milliseconds kQuiet{350};
constexpr milliseconds kDeadline{5000};

class Scenario {
 public:
  Scenario() {
    char pattern[] = "/tmp/folderhook-watch-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    base_ = pattern;
    std::filesystem::create_directory(base_ + "/w");
    std::filesystem::create_directory(base_ + "/out");
    REQUIRE(uv_loop_init(&loop_) == 0);
    uv_timer_init(&loop_, &wakeup_);
  }

  ~Scenario() {
    bool closed = watcher_ == nullptr;
    if (watcher_) watcher_->close([&] { closed = true; });
    uv_close(reinterpret_cast<uv_handle_t*>(&wakeup_), nullptr);
    while (!closed || uv_loop_alive(&loop_)) uv_run(&loop_, UV_RUN_ONCE);
    CHECK(closed);
    CHECK(uv_loop_close(&loop_) == 0);
    std::error_code ignored;
    std::filesystem::remove_all(base_, ignored);
  }

  // Runs `command` in the base folder before anything is watched.
  void prepare(const std::string& command) {
    REQUIRE(std::system(("cd '" + base_ + "' && " + command).c_str()) == 0);
  }

  // Watches base/w, plus base/NAME for each of `more_roots` (which may nest inside w).
  void start(bool root_exists = true, const std::vector<std::string>& more_roots = {}) {
    if (!root_exists) std::filesystem::remove(base_ + "/w");
    WatchOptions options;
    options.roots.push_back({base_ + "/w", {"*.part", "*.filepart", "*.tmp", ".*.??????"}});
    for (const std::string& root : more_roots) {
      std::filesystem::create_directories(base_ + "/" + root);
      options.roots.push_back({base_ + "/" + root, {}});
    }
    options.on_overflow = [this] { ++overflow_hooks_; };
    options.settle = kSettle;
    options.move_pairing = kPairing;
    std::string error;
    watcher_ = start_inotify_watcher(
        &loop_, options,
        [this](std::vector<FileAction>&& actions) {
          for (FileAction& action : actions) got_.push_back(std::move(action));
        },
        [this](std::string_view level, std::string_view msg, const nlohmann::json&) {
          logs_.push_back(std::string(level) + ": " + std::string(msg));
        },
        error);
    REQUIRE_MESSAGE(watcher_ != nullptr, error);
  }

  // Runs `command` in the base folder while the loop keeps reading the kernel.
  void run(const std::string& command) {
    const std::string script = "cd '" + base_ + "' && " + command;
    char* args[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                    const_cast<char*>(script.c_str()), nullptr};
    uv_process_options_t options{};
    options.file = "/bin/sh";
    options.args = args;
    options.exit_cb = [](uv_process_t* process, int64_t status, int) {
      *static_cast<int64_t*>(process->data) = status;
      uv_close(reinterpret_cast<uv_handle_t*>(process), nullptr);
    };
    int64_t status = -1;
    uv_process_t process{};
    process.data = &status;
    REQUIRE(uv_spawn(&loop_, &process, &options) == 0);
    run_until([&] { return uv_is_closing(reinterpret_cast<uv_handle_t*>(&process)); });
    uv_run(&loop_, UV_RUN_NOWAIT);  // runs the close callback of the process handle
    REQUIRE_MESSAGE(status == 0, command);
  }

  // The actions once `count` have arrived (or the deadline passed), plus any that arrive in
  // the quiet period after: each as "create file w/a", paths relative to the base folder.
  Lines expect(std::size_t count) {
    run_until([&] { return got_.size() >= count; });
    const auto quiet_end = std::chrono::steady_clock::now() + kQuiet;
    run_until([&] { return std::chrono::steady_clock::now() >= quiet_end; });
    Lines lines;
    for (const FileAction& action : got_) {
      std::string line = std::string(to_string(action.action)) + " " +
                         std::string(to_string(action.type)) + " " + relative(action.path);
      if (!action.destination.empty()) line += " -> " + relative(action.destination);
      lines.push_back(line);
    }
    got_.clear();
    return lines;
  }

  // Waits like expect() but leaves the actions in raw() for field checks.
  const std::vector<FileAction>& expect_raw(std::size_t count) {
    run_until([&] { return got_.size() >= count; });
    return got_;
  }
  const std::vector<FileAction>& raw() const { return got_; }
  const std::vector<std::string>& logs() const { return logs_; }
  int overflow_hooks() const { return overflow_hooks_; }
  void wait_for(const std::function<bool()>& done) { run_until(done); }
  Watcher& watcher() { return *watcher_; }

 private:
  template <typename Done>
  void run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    uv_timer_start(&wakeup_, [](uv_timer_t*) {}, 5, 5);  // bounds each UV_RUN_ONCE
    while (!done() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&wakeup_);
  }

  std::string relative(const std::string& path) const {
    return path.rfind(base_ + "/", 0) == 0 ? path.substr(base_.size() + 1) : path;
  }

  std::string base_;
  uv_loop_t loop_{};
  uv_timer_t wakeup_{};
  std::unique_ptr<Watcher> watcher_;
  std::vector<FileAction> got_;
  std::vector<std::string> logs_;
  int overflow_hooks_ = 0;
};

}  // namespace

TEST_CASE("kernel: echo > new file is one create when it is closed, owned by its user") {
  Scenario s;
  s.start();
  const auto before = std::chrono::system_clock::now();
  s.run("echo hi > w/a.txt");
  const auto after = std::chrono::system_clock::now();
  REQUIRE(s.expect_raw(1).size() == 1);
  const FileAction& action = s.raw().front();
  CHECK(action.action == Action::kCreate);
  CHECK(action.type == ObjectType::kFile);
  CHECK(action.destination.empty());
  CHECK(action.username == getpwuid(geteuid())->pw_name);
  // `at` is when the kernel's record was read: after the command started, before it ended.
  CHECK(action.at >= before);
  CHECK(action.at <= after);
  CHECK(s.expect(0) == Lines{"create file w/a.txt"});
}

TEST_CASE("kernel: a create is delivered within the settle window plus a little") {
  Scenario s;
  s.start();
  s.run("echo hi > w/a.txt");
  const auto closed = std::chrono::steady_clock::now();
  REQUIRE(s.expect_raw(1).size() == 1);
  const auto latency = std::chrono::steady_clock::now() - closed;
  MESSAGE("create latency after the writer closed: "
          << std::chrono::duration_cast<milliseconds>(latency).count() << " ms (settle "
          << kSettle.count() << " ms)");
  CHECK(latency < kSettle + milliseconds(400));
}

TEST_CASE("kernel: uids without a name are reported as digits") {
  RealFileSystem fs(-1);
  CHECK(fs.user_name(0) == "root");
  CHECK(fs.user_name(4'242'424) == "4242424");
}

TEST_CASE("kernel: a watcher dropped without close still frees its handles in the loop") {
  char folder[] = "/tmp/folderhook-watch-XXXXXX";
  REQUIRE(mkdtemp(folder) != nullptr);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::string error;
  WatchOptions options;
  options.roots.push_back({folder, {}});
  auto watcher = start_inotify_watcher(&loop, options, [](std::vector<FileAction>&&) {}, {}, error);
  REQUIRE(watcher != nullptr);
  CHECK(watcher->stats().watches >= 1);
  watcher.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  std::filesystem::remove_all(folder);
}

TEST_CASE("kernel: appending to an existing file is an update") {
  Scenario s;
  s.prepare("echo a > w/e");
  s.start();
  s.run("echo b >> w/e && echo c >> w/e");
  CHECK(s.expect(1) == Lines{"update file w/e"});
}

TEST_CASE("kernel: rm is destroy, mv is move, cat is read, ls is nothing") {
  Scenario s;
  s.prepare("echo a > w/a && echo b > w/b");
  s.start();
  s.run("rm w/a");
  CHECK(s.expect(1) == Lines{"destroy file w/a"});
  s.run("mv w/b w/c");
  CHECK(s.expect(1) == Lines{"move file w/b -> w/c"});
  s.run("ls -la w > /dev/null && cat w/c > /dev/null");
  CHECK(s.expect(1) == Lines{"read file w/c"});
}

TEST_CASE("kernel: mkdir -p a/b/c && echo x > a/b/c/f reports each directory and the file once") {
  Scenario s;
  s.start();
  s.run("mkdir -p w/a/b/c && echo x > w/a/b/c/f");
  CHECK(s.expect(4) == Lines{"create directory w/a", "create directory w/a/b",
                             "create directory w/a/b/c", "create file w/a/b/c/f"});
}

TEST_CASE("kernel: a directory moved and then written into reports the new path") {
  Scenario s;
  s.prepare("mkdir -p w/d/sub && echo 1 > w/d/sub/f");
  s.start();
  s.run("mv w/d w/n && echo 2 >> w/n/sub/f && echo 3 > w/n/sub/g");
  CHECK(s.expect(3) ==
        Lines{"move directory w/d -> w/n", "update file w/n/sub/f", "create file w/n/sub/g"});
}

TEST_CASE("kernel: rm -rf reports every entry, deepest first") {
  Scenario s;
  s.prepare("mkdir -p w/d/s && echo 1 > w/d/s/g");
  s.start();
  s.run("rm -rf w/d");
  CHECK(s.expect(3) ==
        Lines{"destroy file w/d/s/g", "destroy directory w/d/s", "destroy directory w/d"});
}

TEST_CASE("kernel: moved out is destroy, moved in, with a tree, is create parents first") {
  Scenario s;
  s.prepare("echo a > w/a && mkdir -p out/t/u && echo 1 > out/t/u/f");
  s.start();
  s.run("mv w/a out/a");
  CHECK(s.expect(1) == Lines{"destroy file w/a"});
  s.run("mv out/t w/t");
  CHECK(s.expect(3) ==
        Lines{"create directory w/t", "create directory w/t/u", "create file w/t/u/f"});
}

TEST_CASE("kernel: cp, cp -p, install and cat a > b inside the folder are copies") {
  Scenario s;
  s.prepare("printf 'some content\\n' > w/a");
  s.start();
  s.run("cp w/a w/b");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/b"});
  s.run("cp -p w/a w/p");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/p"});
  s.run("install w/a w/i");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/i"});
  s.run("cat w/a > w/c");
  CHECK(s.expect(1) == Lines{"copy file w/a -> w/c"});
}

TEST_CASE("kernel: cp -r creates the directory and copies each file") {
  Scenario s;
  s.prepare("mkdir -p w/d && echo one > w/d/f");
  s.start();
  s.run("cp -r w/d w/d2");
  CHECK(s.expect(2) == Lines{"create directory w/d2", "copy file w/d/f -> w/d2/f"});
}

TEST_CASE("kernel: an equal-size file written while another is read is not a copy") {
  Scenario s;
  s.prepare("printf aaaa > w/a");
  s.start();
  s.run("exec 3< w/a; printf bbbb > w/b; exec 3<&-");
  CHECK(s.expect(2) == Lines{"create file w/b", "read file w/a"});
}

TEST_CASE("kernel: a file copied in from outside is a create") {
  Scenario s;
  s.prepare("echo x > out/x");
  s.start();
  s.run("cp -p out/x w/x");
  CHECK(s.expect(1) == Lines{"create file w/x"});
}

TEST_CASE("kernel: rsync uploads through a temp name: one create for the final name") {
  Scenario s;
  s.prepare("head -c 100000 /dev/urandom > out/up.bin && echo old > w/old.bin");
  s.start();
  s.run("rsync out/up.bin w/up.bin");
  CHECK(s.expect(1) == Lines{"create file w/up.bin"});
  s.run("rsync out/up.bin w/old.bin");
  CHECK(s.expect(1) == Lines{"update file w/old.bin"});
  s.run("printf new > w/f.tmp && mv w/f.tmp w/f");
  CHECK(s.expect(1) == Lines{"create file w/f"});
}

TEST_CASE("kernel: hard links and symlinks are created, symlinks are not followed") {
  Scenario s;
  s.prepare("echo a > w/a && mkdir w/dir");
  s.start();
  s.run("ln w/a w/h");
  CHECK(s.expect(1) == Lines{"create file w/h"});
  s.run("ln -s . w/dir/loop");
  CHECK(s.expect(1) == Lines{"create file w/dir/loop"});
  CHECK(s.watcher().stats().watches == 2);
}

TEST_CASE("kernel: a deleted root is destroyed and watched again when it reappears") {
  Scenario s;
  s.prepare("echo a > w/a");
  s.start();
  s.run("rm -rf w");
  CHECK(s.expect(2) == Lines{"destroy file w/a", "destroy directory w"});
  s.run("mkdir w");
  CHECK(s.expect(1) == Lines{"create directory w"});
  s.run("echo n > w/n");
  CHECK(s.expect(1) == Lines{"create file w/n"});
}

TEST_CASE("kernel: a root missing at start is logged and picked up when it appears") {
  Scenario s;
  s.start(false);
  REQUIRE_FALSE(s.logs().empty());
  CHECK(s.logs()[0].rfind("warn: ", 0) == 0);
  s.run("mkdir w");
  CHECK(s.expect(1) == Lines{"create directory w"});
  s.run("echo n > w/n");
  CHECK(s.expect(1) == Lines{"create file w/n"});
}

TEST_CASE("kernel: moves between two roots are moves, and a nested root is watched once") {
  Scenario s;
  s.start(true, {"w2", "w/nested"});
  CHECK(s.watcher().stats().watches == 3);  // w, w/nested, w2
  s.run("echo a > w/a");
  CHECK(s.expect(1) == Lines{"create file w/a"});
  s.run("mv w/a w2/a && mv w2/a w/nested/a");
  CHECK(s.expect(2) == Lines{"move file w/a -> w2/a", "move file w2/a -> w/nested/a"});
}

TEST_CASE("kernel: a queue overflow is logged, counted and handed to the rescan hook") {
  Scenario s;
  s.start();
  // The loop is not reading while these run: one OPEN and one CLOSE_NOWRITE per open of w/a
  // overflow the kernel queue (fs.inotify.max_queued_events).
  std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
  long limit = 16384;
  limit_file >> limit;
  s.prepare("echo a > w/a && i=0 && while [ $i -lt " + std::to_string(limit / 2 + 1000) +
            " ]; do : < w/a; i=$((i+1)); done");
  s.wait_for([&] { return s.watcher().stats().overflows >= 1; });
  CHECK(s.watcher().stats().overflows >= 1);
  CHECK(s.overflow_hooks() >= 1);
  bool logged = false;
  for (const std::string& line : s.logs()) {
    logged = logged || line.find("overflow") != std::string::npos;
  }
  CHECK(logged);
}

}  // namespace folderhook::watch
