// The start walk shared between threads (watch/parallel_walk.h), on the real kernel: each
// directory watched before it is listed, each applied once and after its parent, and the
// builder's start() ending up knowing and watching exactly what a one-thread walk does.
#include "watch/parallel_walk.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"
#include "watch/action_builder.h"
#include "watch/real_file_system.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

void touch(const std::string& path) {
  close(open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
}

// `fanout` directories under the root, each with `fanout` more, each with a file; plus a
// symlink to a directory (never walked through) and a directory `skip` with a tree in it.
std::set<std::string> make_tree(const std::string& root, int fanout) {
  std::set<std::string> dirs{root};
  for (int a = 0; a < fanout; ++a) {
    const std::string da = root + "/a" + std::to_string(a);
    REQUIRE(mkdir(da.c_str(), 0755) == 0);
    dirs.insert(da);
    for (int b = 0; b < fanout; ++b) {
      const std::string db = da + "/b" + std::to_string(b);
      REQUIRE(mkdir(db.c_str(), 0755) == 0);
      dirs.insert(db);
      touch(db + "/f");
    }
  }
  REQUIRE(symlink((root + "/a0").c_str(), (root + "/link").c_str()) == 0);
  REQUIRE(mkdir((root + "/skip").c_str(), 0755) == 0);
  REQUIRE(mkdir((root + "/skip/under").c_str(), 0755) == 0);
  return dirs;
}

// The real file system, with every add_watch and list_stat written down in the order they
// happened. The walk's own thread waits inside its first listing after the root until a
// helper has listed something: the work is shared whatever the scheduler does.
class RecordingFileSystem : public RealFileSystem {
 public:
  using RealFileSystem::RealFileSystem;

  int add_watch(const std::string& dir) override {
    note("watch " + dir);
    return RealFileSystem::add_watch(dir);
  }
  std::vector<DirEntry> list_stat(const std::string& dir) override {
    note("list " + dir);
    std::unique_lock lock(mutex_);
    if (std::this_thread::get_id() == caller_ && listed_by_caller_++ == 1) {
      const bool shared = helper_listed_.wait_for(lock, std::chrono::seconds(30),
                                                  [&] { return listed_by_helper_ > 0; });
      if (!shared) throw std::runtime_error("no helper listed anything in 30 s");
    }
    if (std::this_thread::get_id() != caller_) {
      ++listed_by_helper_;
      helper_listed_.notify_all();
    }
    lock.unlock();
    return RealFileSystem::list_stat(dir);
  }
  bool concurrent_walk() const override { return true; }

  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  void note(std::string call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }

  std::mutex mutex_;
  std::condition_variable helper_listed_;
  std::thread::id caller_ = std::this_thread::get_id();
  int listed_by_caller_ = 0;
  int listed_by_helper_ = 0;
  std::vector<std::string> calls_;
};

struct Inotify {
  Inotify() : fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) { REQUIRE(fd >= 0); }
  ~Inotify() { close(fd); }
  int fd;
};

bool not_skipped(const std::string& path) {
  return path.size() < 5 || path.compare(path.size() - 5, 5, "/skip") != 0;
}

}  // namespace

TEST_CASE(
    "kernel: a shared walk watches each directory before listing it, and applies it once, after "
    "its parent") {
  folderhook::test::TempDir tree;
  std::set<std::string> expected = make_tree(tree.path(), 12);
  expected.insert(tree.path() + "/skip");  // listed by its parent, not descended
  Inotify inotify;
  RecordingFileSystem fs(inotify.fd);
  ParallelWalk walk(fs, 2, not_skipped, nullptr);
  std::vector<std::string> applied;
  std::set<std::string> with_file;
  walk.run(tree.path(), [&](WalkedDirectory& walked) {
    CHECK(walked.wd >= 0);
    applied.push_back(walked.path);
    for (const DirEntry& entry : walked.entries) {
      if (entry.name == "f") with_file.insert(walked.path);
    }
  });
  expected.erase(tree.path() + "/skip");
  CHECK(std::set<std::string>(applied.begin(), applied.end()) == expected);
  CHECK(applied.size() == expected.size());
  CHECK(with_file.size() == 12 * 12);
  CHECK(walk.walked_by_helpers() > 0);
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < applied.size(); ++i) position[applied[i]] = i;
  for (const std::string& dir : applied) {
    if (dir == tree.path()) continue;
    const std::string parent = dir.substr(0, dir.rfind('/'));
    CHECK_MESSAGE(position.at(parent) < position.at(dir), dir << " applied before its parent");
  }
  const std::vector<std::string> calls = fs.calls();
  for (const std::string& dir : applied) {
    const auto watched = std::find(calls.begin(), calls.end(), "watch " + dir);
    const auto listed = std::find(calls.begin(), calls.end(), "list " + dir);
    REQUIRE(watched != calls.end());
    REQUIRE(listed != calls.end());
    CHECK_MESSAGE(watched < listed, dir << " listed before it was watched");
  }
}

TEST_CASE("kernel: what apply throws stops a shared walk and reaches the caller") {
  folderhook::test::TempDir tree;
  make_tree(tree.path(), 8);
  Inotify inotify;
  RealFileSystem fs(inotify.fd);
  ParallelWalk walk(fs, 2, not_skipped, nullptr);
  int applied = 0;
  CHECK_THROWS_WITH_AS(walk.run(tree.path(),
                                [&](WalkedDirectory&) {
                                  if (++applied == 5) throw std::runtime_error("index full");
                                }),
                       "index full", std::runtime_error);
  CHECK(applied == 5);
}

TEST_CASE("kernel: a cancelled shared walk returns without walking the rest") {
  folderhook::test::TempDir tree;
  const std::set<std::string> dirs = make_tree(tree.path(), 12);
  Inotify inotify;
  RealFileSystem fs(inotify.fd);
  std::atomic<bool> cancel{false};
  ParallelWalk walk(fs, 2, not_skipped, &cancel);
  std::size_t applied = 0;
  walk.run(tree.path(), [&](WalkedDirectory&) {
    if (++applied == 3) cancel = true;
  });
  CHECK(applied == 3);  // nothing more is applied once cancelled
  CHECK(dirs.size() > 3);
}

TEST_CASE(
    "kernel: a start shared with helpers knows and watches exactly what a one-thread start does") {
  folderhook::test::TempDir tree;
  const std::set<std::string> dirs = make_tree(tree.path(), 10);
  struct Result {
    std::vector<std::string> known;
    std::set<std::string> scanned;
    std::size_t watches = 0;
  };
  const auto start = [&](std::size_t helpers) {
    Inotify inotify;
    RealFileSystem fs(inotify.fd);
    WatchOptions options;
    options.roots.push_back({tree.path(), {}});
    options.ignore_paths.push_back(tree.path() + "/skip");
    options.walk_helpers = helpers;
    ActionBuilder builder(options, fs,
                          [](std::string_view, std::string_view, const nlohmann::json&) {});
    ScanLog scanned;
    builder.start({std::chrono::steady_clock::now(), std::chrono::system_clock::now()},
                  {&scanned, nullptr, nullptr});
    Result result;
    result.known = builder.table().known_within(tree.path());
    scanned.for_each([&](std::string_view path, const IndexEntry&) {
      result.scanned.insert(std::string(path));
    });
    result.watches = builder.table().size();
    return result;
  };
  const Result alone = start(0);
  const Result shared = start(2);
  CHECK(shared.watches == dirs.size());
  CHECK(shared.watches == alone.watches);
  CHECK(shared.known == alone.known);
  CHECK(shared.scanned == alone.scanned);
  CHECK(shared.scanned.count(tree.path() + "/a3/b7/f") == 1);
  CHECK(shared.scanned.count(tree.path() + "/link") == 1);
  CHECK(shared.scanned.count(tree.path() + "/skip") == 0);
}

TEST_CASE(
    "kernel: directories made while a shared start walk runs are all watched when it is done") {
  // Another process keeps making directories (chains of three, in directories old and new)
  // while the walk runs on two threads. Each one is listed after its watch by whichever
  // thread takes it, or created after its parent was watched: either way it must end up
  // watched. A file then made in every directory must be reported, once.
  folderhook::test::TempDir tree;
  const std::set<std::string> dirs = make_tree(tree.path(), 30);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  WatchOptions options;
  options.roots.push_back({tree.path(), {}});
  options.catch_up.enabled = true;
  options.walk_helpers = 2;
  std::atomic<bool> ready{false};
  options.catch_up.on_ready = [&] { ready = true; };
  std::map<std::string, int> created;
  const auto sink = [&](std::vector<FileAction>&& actions) {
    for (const FileAction& a : actions) {
      if (a.action == Action::kCreate && a.type == ObjectType::kFile) ++created[a.path];
    }
  };
  std::atomic<int> made{0};
  std::vector<std::string> made_dirs;  // the maker's until it is joined
  std::thread maker([&] {
    std::vector<std::string> parents{tree.path()};
    for (int a = 0; a < 30; ++a) parents.push_back(tree.path() + "/a" + std::to_string(a));
    for (int i = 0; !ready && i < 1300; ++i) {  // at most 3,900
      std::string dir = parents[static_cast<std::size_t>(i * 7919) % parents.size()];
      for (int depth = 0; depth < 3; ++depth) {
        dir += "/n" + std::to_string(i) + "_" + std::to_string(depth);
        if (mkdir(dir.c_str(), 0755) != 0) break;
        made_dirs.push_back(dir);
        ++made;
      }
      parents.push_back(dir);
    }
  });
  std::string error;
  std::mutex log_mutex;          // the watcher may log from its worker too
  std::vector<std::string> log;  // printed if the test fails: what the watcher said
  const auto logger = [&](std::string_view level, std::string_view msg, const nlohmann::json& f) {
    std::lock_guard lock(log_mutex);
    log.push_back(std::string(level) + " " + std::string(msg) + " " + f.dump());
  };
  auto watcher = start_inotify_watcher(&loop, options, sink, logger, error);
  REQUIRE(watcher != nullptr);
  // Bounds each UV_RUN_ONCE below: a wait whose condition never comes ends at its deadline
  // instead of blocking in the loop for an event that will not come.
  uv_timer_t wake;
  uv_timer_init(&loop, &wake);
  uv_timer_start(&wake, [](uv_timer_t*) {}, 5, 5);
  folderhook::test::wait_until([&] { return ready.load(); }, std::chrono::seconds(60),
                               [&] { uv_run(&loop, UV_RUN_ONCE); });
  maker.join();
  REQUIRE(ready);
  MESSAGE(made.load() << " directories made until the walk was done (or the cap)");
  CHECK(made > 0);
  // From what was made, not from a listing: listing 4,000 directories here, with the loop
  // idle, would itself queue four records each and overflow the queue (it did, in CI).
  std::vector<std::string> probes;
  for (const std::string& dir : dirs) probes.push_back(dir + "/probe");
  for (const std::string& dir : made_dirs) probes.push_back(dir + "/probe");
  const auto probes_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // In chunks, each reported before the next is made: the kernel queue never overflows.
  const auto reported = [&](std::size_t from, std::size_t to) {
    return std::all_of(probes.begin() + static_cast<std::ptrdiff_t>(from),
                       probes.begin() + static_cast<std::ptrdiff_t>(to),
                       [&](const std::string& p) { return created.count(p) != 0; });
  };
  for (std::size_t from = 0; from < probes.size(); from += 1000) {
    const std::size_t to = std::min(probes.size(), from + 1000);
    for (std::size_t i = from; i < to; ++i) touch(probes[i]);
    while (!reported(from, to) && std::chrono::steady_clock::now() < probes_deadline) {
      uv_run(&loop, UV_RUN_ONCE);
    }
  }
  std::vector<std::string> missed;
  for (const std::string& probe : probes) {
    if (!created.count(probe)) missed.push_back(probe);
  }
  CHECK_MESSAGE(missed.empty(), missed.size()
                                    << " of " << probes.size() << " not reported, the first: "
                                    << (missed.empty() ? "" : missed.front()));
  for (const auto& [path, times] : created)
    CHECK_MESSAGE(times == 1, path << " reported " << times << " times");
  CHECK(watcher->stats().overflows == 0);
  if (!missed.empty() || watcher->stats().overflows != 0) {
    std::lock_guard lock(log_mutex);
    for (const std::string& line : log) MESSAGE("watcher: " << line);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  watcher->close([] {});
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace folderhook::watch
