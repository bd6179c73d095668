// Scenario: a real uv loop and a watcher of one backend on a fresh temporary folder; real
// commands run while the loop reads; actions come back as lines ("create file w/a").
// KERNEL_SCENARIO("name") defines one test case per backend around the same body.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"
#include "watch/process_info.h"
#include "watch/watcher.h"

namespace folderhook::watch::testing {

using Lines = std::vector<std::string>;
using std::chrono::milliseconds;

enum class Backend { kInotify, kFanotify, kFanotifyWithoutRename };

inline constexpr milliseconds kSettle{100};
inline constexpr milliseconds kPairing{100};
// After the expected actions arrived, keep reading this long to catch any extra one.
inline constexpr milliseconds kQuiet{350};
inline constexpr milliseconds kDeadline{5000};

inline std::unique_ptr<Watcher> start_backend(Backend backend, uv_loop_t* loop,
                                              WatchOptions options, ActionSink sink,
                                              Logger logger, std::string& error) {
  if (backend == Backend::kInotify) {
    return start_inotify_watcher(loop, std::move(options), std::move(sink), std::move(logger),
                                 error);
  }
  options.fanotify_without_rename = backend == Backend::kFanotifyWithoutRename;
  return start_fanotify_watcher(loop, options, std::move(sink), std::move(logger), error);
}

// Why fanotify cannot run here, or "" when it can (asked once, of the real kernel).
inline const std::string& fanotify_refusal() {
  static const std::string reason = [] {
    uv_loop_t loop;
    uv_loop_init(&loop);
    const folderhook::test::TempDir folder;
    std::string error;
    WatchOptions options;
    options.roots.push_back({folder.path(), {}});
    auto watcher = start_fanotify_watcher(&loop, options, [](std::vector<FileAction>&&) {}, {},
                                          error);
    if (watcher) watcher->close([] {});
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return watcher ? std::string() : error;
  }();
  return reason;
}

// True when `backend` can run; otherwise says SKIPPED with the reason, visibly.
inline bool backend_available(Backend backend) {
  if (backend == Backend::kInotify || fanotify_refusal().empty()) return true;
  MESSAGE("SKIPPED: the kernel refuses fanotify: " << fanotify_refusal());
  return false;
}

class Scenario {
 public:
  explicit Scenario(Backend backend = Backend::kInotify) : backend_(backend) {
    base_ = dir_.path();
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
  }

  // The settle window start() gives the watcher.
  milliseconds settle = kSettle;
  // The read gap start() gives the watcher (WatchOptions::read_gap).
  milliseconds read_gap{1};

  Backend backend() const { return backend_; }
  bool fanotify() const { return backend_ != Backend::kInotify; }
  const std::string& base() const { return base_; }

  // Runs `command` in the base folder while the loop is not reading.
  void prepare(const std::string& command) {
    REQUIRE(std::system(("cd '" + base_ + "' && " + command).c_str()) == 0);
  }

  // Watches base/w, plus base/NAME for each of `more_roots` (which may nest inside w), and
  // returns once the watcher is ready (fanotify: its index is built). False, with a SKIPPED
  // message, when the backend cannot run on this kernel.
  bool start(bool root_exists = true, const std::vector<std::string>& more_roots = {},
             InterfaceMap interfaces = {}) {
    if (!backend_available(backend_)) return false;
    if (!root_exists) std::filesystem::remove(base_ + "/w");
    WatchOptions options;
    options.roots.push_back({base_ + "/w", {"*.part", "*.filepart", "*.tmp", ".*.??????"}});
    for (const std::string& root : more_roots) {
      std::filesystem::create_directories(base_ + "/" + root);
      options.roots.push_back({base_ + "/" + root, {}});
    }
    options.on_overflow = [this] { ++overflow_hooks_; };
    options.settle = settle;
    options.read_gap = read_gap;
    options.move_pairing = kPairing;
    options.interfaces = std::move(interfaces);
    std::string error;
    watcher_ = start_backend(
        backend_, &loop_, options,
        [this](std::vector<FileAction>&& actions) {
          for (FileAction& action : actions) got_.push_back(std::move(action));
        },
        [this](std::string_view level, std::string_view msg, const nlohmann::json& fields) {
          logs_.push_back(std::string(level) + ": " + std::string(msg) +
                          (fields.empty() ? "" : " " + fields.dump()));
        },
        error);
    REQUIRE_MESSAGE(watcher_ != nullptr, error);
    run_until([&] { return !watcher_->stats().indexing; });
    return true;
  }

  // Runs `command` in the base folder while the loop keeps reading the kernel.
  void run(const std::string& command) {
    spawn(command);
    finish();
  }

  // Starts `command` in the base folder; finish() waits for it while the loop reads.
  void spawn(const std::string& command) {
    REQUIRE(process_status_ != -2);  // one at a time
    script_ = "cd '" + base_ + "' && " + command;
    char* args[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                    const_cast<char*>(script_.c_str()), nullptr};
    uv_process_options_t options{};
    options.file = "/bin/sh";
    options.args = args;
    options.exit_cb = [](uv_process_t* process, int64_t status, int) {
      *static_cast<int64_t*>(process->data) = status;
      uv_close(reinterpret_cast<uv_handle_t*>(process), nullptr);
    };
    process_status_ = -2;
    process_ = uv_process_t{};
    process_.data = &process_status_;
    REQUIRE(uv_spawn(&loop_, &process_, &options) == 0);
  }

  void finish() {
    run_until([&] { return uv_is_closing(reinterpret_cast<uv_handle_t*>(&process_)); });
    uv_run(&loop_, UV_RUN_NOWAIT);  // runs the close callback of the process handle
    REQUIRE_MESSAGE(process_status_ == 0, script_);
    process_status_ = -1;
  }

  // The actions once `count` have arrived (or the deadline passed), plus any that arrive in
  // the quiet period after: each as "create file w/a", paths relative to the base folder.
  Lines expect(std::size_t count) {
    run_until([&] { return got_.size() >= count; });
    if (got_.size() < count) {
      // The deadline passed short of `count`: what the watcher said is the evidence, and the
      // next scenario will not have it.
      std::string said;
      for (const std::string& line : logs_) said += "\n  " + line;
      MESSAGE("only " << got_.size() << " of " << count << " actions arrived; the watcher logged:"
                      << (said.empty() ? std::string(" nothing") : said));
    }
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
  uv_loop_t* loop() { return &loop_; }
  bool indexing() const { return watcher_ != nullptr && watcher_->stats().indexing; }

 private:
  template <typename Done>
  void run_until(Done done) {
    uv_timer_start(&wakeup_, [](uv_timer_t*) {}, 5, 5);  // bounds each UV_RUN_ONCE
    folderhook::test::wait_until(done, kDeadline, [this] { uv_run(&loop_, UV_RUN_ONCE); });
    uv_timer_stop(&wakeup_);
  }

  std::string relative(const std::string& path) const {
    return path.rfind(base_ + "/", 0) == 0 ? path.substr(base_.size() + 1) : path;
  }

  Backend backend_;
  folderhook::test::TempDir dir_;  // removed after the watcher has closed
  std::string base_;
  uv_loop_t loop_{};
  uv_timer_t wakeup_{};
  uv_process_t process_{};
  int64_t process_status_ = -1;
  std::string script_;
  std::unique_ptr<Watcher> watcher_;
  std::vector<FileAction> got_;
  std::vector<std::string> logs_;
  int overflow_hooks_ = 0;
};

}  // namespace folderhook::watch::testing

#define KERNEL_SCENARIO_CAT2(a, b) a##b
#define KERNEL_SCENARIO_CAT(a, b) KERNEL_SCENARIO_CAT2(a, b)
#define KERNEL_SCENARIO_IMPL(name, body)                                              \
  static void body(::folderhook::watch::testing::Backend backend);                    \
  TEST_CASE("kernel inotify: " name) { body(::folderhook::watch::testing::Backend::kInotify); } \
  TEST_CASE("kernel fanotify: " name) { body(::folderhook::watch::testing::Backend::kFanotify); } \
  static void body([[maybe_unused]] ::folderhook::watch::testing::Backend backend)
// One test case per backend, both running the body that follows (with `backend` in scope).
#define KERNEL_SCENARIO(name) \
  KERNEL_SCENARIO_IMPL(name, KERNEL_SCENARIO_CAT(kernel_scenario_, __LINE__))
