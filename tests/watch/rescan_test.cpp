// CatchUpRunner's rescans after a queue overflow, with the overflow record read at each point of
// a rescan: before it starts, while its worker waits to list, in the read that ends it, in the
// read after its log line, after it. The tree is real (the scan lists a temporary folder on a
// worker); the kernel is this test, which feeds the builder the records the kernel would have
// kept, as the engine would (then reads the queue empty and delivers). Whatever the point,
// every file whose records were lost is reported exactly once.
#include <doctest/doctest.h>

#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>

#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"
#include "tests/watch/index_model.h"
#include "watch/action_builder.h"
#include "watch/catch_up_runner.h"
#include "watch/real_file_system.h"

namespace folderhook::watch::testing {
namespace {

// The real tree, without inotify: watches are numbers the test feeds records by.
class RealTreeFakeWatches : public RealFileSystem {
 public:
  RealTreeFakeWatches() : RealFileSystem(-1) {}
  int add_watch(const std::string& dir) override {
    const auto info = stat(dir);
    if (!info) return -ENOENT;
    if (info->kind != FileKind::kDirectory) return -ENOTDIR;
    return next_wd_++;
  }
  void remove_watch(int) override {}

 private:
  int next_wd_ = 1;
};

// Holds the next rescan's worker before it lists, until the loop lets it go.
class Gate {
 public:
  void arm() { armed_ = true; }
  void wait_if_armed() {
    if (!armed_.exchange(false)) return;
    std::unique_lock lock(mu_);
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool waiting_ = false;
  bool open_ = false;
};

Timestamp stamp() {
  return Timestamp{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

// One agent's worth of catch-up around a real folder: the builder, the runner, the stored
// index (kept as the agent keeps it: every delivered action and every on_index update), and
// what was reported, counted by "action path".
class Rig {
 public:
  explicit Rig(std::chrono::milliseconds settle = std::chrono::milliseconds(20)) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    write(root + "/old", "o");
    options_.roots.push_back({root, {}});
    options_.settle = settle;
    fs_ = std::make_unique<RealTreeFakeWatches>();
    const Logger logger = [this](std::string_view, std::string_view msg, const nlohmann::json& f) {
      log += std::string(msg) + " " + f.dump() + "\n";
    };
    builder_ = std::make_unique<ActionBuilder>(options_, *fs_, logger);
    builder_->start(stamp());
    // The index as a first start left it.
    RealFileSystem lister(-1);
    ScanProgress progress;
    std::atomic<bool> cancel{false};
    stored_ = *scan_tree(lister, {root}, {}, {}, stamp().wall, progress, cancel);
    CatchUpOptions catch_up;
    catch_up.enabled = true;
    catch_up.indexed_roots = {root};
    catch_up.rescan_backoff_min = std::chrono::milliseconds(1);
    catch_up.rescan_backoff_max = std::chrono::milliseconds(8);
    catch_up.read_index = [this] {
      return [snapshot = stored_, this](std::string&) -> std::optional<Index> {
        gate.wait_if_armed();
        return snapshot;
      };
    };
    catch_up.on_index = [this](IndexUpdate&& update) {
      for (auto& [path, entry] : update.entries) stored_[path] = entry;
    };
    runner_ = std::make_unique<CatchUpRunner>(
        &loop_, *builder_, logger, std::move(catch_up), std::vector<std::string>{},
        CatchUpRunner::Hooks{[this] { ++holds_; }, [this] { --holds_; },
                             [this] { drain(); }, [](std::string&) { return true; }, [] {}});
    runner_->init();
    uv_timer_init(&loop_, &ticker_);
    ticker_.data = this;
    uv_timer_start(&ticker_, [](uv_timer_t* t) { static_cast<Rig*>(t->data)->tick(); }, 2, 2);
  }
  ~Rig() {
    gate.open();
    runner_->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(holds_ == 0);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  static void write(const std::string& path, const std::string& content) {
    std::ofstream(path) << content;
  }

  // The kernel's records of one read(), then the queue found empty: as the engine feeds them
  // when the descriptor is readable (`check`: it then asks the runner about overflows), or
  // when the runner asks it to drain (the runner asks itself).
  void read(const std::vector<std::pair<uint32_t, std::string>>& records, bool check = true) {
    const int wd = *builder_->table().wd_of(root);
    for (const auto& [mask, name] : records) {
      builder_->feed(inotify_record_of(RawRecord{wd, mask, 0, name}), stamp());
    }
    builder_->queue_drained(stamp());
    deliver();
    if (check) runner_->check_overflow();
  }

  // What to read in the runner's n-th drain (1-based): a rescan drains twice, once before it
  // applies its difference and once after its log line.
  void at_drain(int n, std::function<void()> step) { steps_[n] = std::move(step); }

  // Runs the loop until everything expected was reported and the runner and the builder have
  // nothing left to do, or 10 s.
  bool run_until_settled(size_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
      if (reported.size() >= expected && runner_->idle() && !builder_->next_deadline() &&
          steps_.empty()) {
        return true;
      }
    }
    return false;
  }
  // Runs the loop until `ready` says so, or 10 s.
  bool run_until(const std::function<bool()>& ready) {
    return folderhook::test::wait_until(ready, std::chrono::seconds(10),
                                        [this] { uv_run(&loop_, UV_RUN_ONCE); });
  }

  uint64_t rescans() const { return runner_->rescans(); }
  bool stored(const std::string& path) const { return stored_.count(path) != 0; }

  folderhook::test::TempDir dir;
  const std::string root = dir.path();
  Gate gate;
  std::map<std::string, int> reported;
  std::string log;

 private:
  void drain() {
    ++drains_;
    if (auto step = steps_.find(drains_); step != steps_.end()) {
      auto run = std::move(step->second);
      steps_.erase(step);
      run();
    }
    deliver();
  }
  void deliver() {
    for (const FileAction& action : builder_->take_actions()) {
      ++reported[std::string(to_string(action.action)) + " " + action.path];
      apply_to_index(stored_, action);
    }
  }
  void tick() {
    builder_->tick(stamp());
    deliver();
  }

  uv_loop_t loop_{};
  uv_timer_t ticker_{};
  WatchOptions options_;
  std::unique_ptr<RealTreeFakeWatches> fs_;
  std::unique_ptr<ActionBuilder> builder_;
  std::unique_ptr<CatchUpRunner> runner_;
  Index stored_;
  std::map<int, std::function<void()>> steps_;
  int drains_ = 0;
  int holds_ = 0;
};

using Reported = std::map<std::string, int>;
constexpr std::pair<uint32_t, const char*> kOverflow{IN_Q_OVERFLOW, ""};

}  // namespace

TEST_CASE("rescan: an overflow read before the rescan starts: what it hid is reported once") {
  Rig rig;
  Rig::write(rig.root + "/a", "a");  // every record of it lost
  rig.read({kOverflow});
  INFO(rig.log);
  REQUIRE(rig.run_until_settled(1));
  CHECK(rig.reported == Reported{{"create " + rig.root + "/a", 1}});
  CHECK(rig.rescans() == 1);
  CHECK(rig.stored(rig.root + "/a"));
}

TEST_CASE("rescan: a hard link and an unlink of the old name, their records lost, are one move") {
  Rig rig;
  // What OpenSSH's sftp-server does for a plain rename: link(old, new), unlink(old).
  REQUIRE(::link((rig.root + "/old").c_str(), (rig.root + "/new").c_str()) == 0);
  REQUIRE(::unlink((rig.root + "/old").c_str()) == 0);
  rig.read({kOverflow});
  INFO(rig.log);
  REQUIRE(rig.run_until_settled(1));
  CHECK(rig.reported == Reported{{"move " + rig.root + "/old", 1}});
  CHECK(rig.stored(rig.root + "/new"));
  CHECK_FALSE(rig.stored(rig.root + "/old"));
}

TEST_CASE("rescan: an overflow read while the rescan waits to list: it lists again after") {
  Rig rig;
  Rig::write(rig.root + "/a", "a");
  rig.gate.arm();
  rig.read({kOverflow});
  INFO(rig.log);
  REQUIRE(rig.run_until([&] { return rig.gate.waiting(); }));
  Rig::write(rig.root + "/b", "b");  // lost while the scan is in flight
  rig.read({kOverflow});
  rig.gate.open();
  REQUIRE(rig.run_until_settled(2));
  CHECK(rig.reported == Reported{{"create " + rig.root + "/a", 1}, {"create " + rig.root + "/b", 1}});
  CHECK(rig.rescans() == 2);
}

namespace {

// An overflow record read in the runner's `drain`-th read (1: the one that ends the first
// rescan, before its difference is applied; 2: the one after its log line), `hidden` made just
// before it with every record of it lost: another rescan names it, once.
void overflow_in_drain(int drain, const std::string& hidden) {
  Rig rig;
  Rig::write(rig.root + "/a", "a");
  rig.at_drain(drain, [&] {
    Rig::write(rig.root + "/" + hidden, hidden);
    rig.read({kOverflow}, false);  // the runner asked for this read: it looks for overflows
  });
  rig.read({kOverflow});
  INFO(rig.log);
  REQUIRE(rig.run_until_settled(2));
  CHECK(rig.reported ==
        Reported{{"create " + rig.root + "/a", 1}, {"create " + rig.root + "/" + hidden, 1}});
  CHECK(rig.rescans() == 2);
}

}  // namespace

TEST_CASE("rescan: an overflow read in the read that ends a rescan, after its listing: another "
          "rescan names what it hid") {
  overflow_in_drain(1, "c");
}

TEST_CASE("rescan: an overflow read in the read after a rescan's log line: another rescan names "
          "what it hid, with nothing else read after") {
  overflow_in_drain(2, "d");
}

TEST_CASE("rescan: an overflow read after a rescan is done starts another") {
  Rig rig;
  Rig::write(rig.root + "/a", "a");
  rig.read({kOverflow});
  INFO(rig.log);
  REQUIRE(rig.run_until_settled(1));
  Rig::write(rig.root + "/e", "e");
  rig.read({kOverflow});
  REQUIRE(rig.run_until_settled(2));
  CHECK(rig.reported == Reported{{"create " + rig.root + "/a", 1}, {"create " + rig.root + "/e", 1}});
  CHECK(rig.rescans() == 2);
}

TEST_CASE("rescan: a write read after the overflow record, its close dropped while that record "
          "waited, is reported once") {
  Rig rig(std::chrono::milliseconds(200));
  Rig::write(rig.root + "/f", "f");  // every record of it lost
  // g's CREATE and OPEN came after the overflow record in the same read, its CLOSE_WRITE was
  // dropped before that record was read: nothing says so but the queue found empty after them.
  // The rescan finds g while it waits on its size (its difference is dropped, the live side
  // names it) or after it was named (no difference).
  Rig::write(rig.root + "/g", "g");
  rig.read({kOverflow, {IN_CREATE, "g"}, {IN_OPEN, "g"}});
  INFO(rig.log);
  REQUIRE(rig.run_until_settled(2));
  CHECK(rig.reported == Reported{{"create " + rig.root + "/f", 1}, {"create " + rig.root + "/g", 1}});
  CHECK(rig.rescans() == 1);
  CHECK(rig.stored(rig.root + "/g"));
}

}  // namespace folderhook::watch::testing
