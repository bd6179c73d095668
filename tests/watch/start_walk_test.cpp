// The inotify walks on the real kernel (at start, and of a tree moved in): their own listings
// must not overflow the kernel queue (RealFileSystem::sift_queue), and sifting keeps every
// record that names an operation.
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"
#include "watch/inotify_record.h"
#include "watch/real_file_system.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

uint64_t max_queued_events() {
  std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
  uint64_t value = 0;
  in >> value;
  return value;
}

void touch(const std::string& path) { close(open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)); }

void list(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  char buffer[4096];
  while (getdents64(fd, buffer, sizeof buffer) > 0) {
  }
  close(fd);
}

std::vector<std::string> describe(const std::vector<RawRecord>& records) {
  std::vector<std::string> out;
  for (const RawRecord& r : records) out.push_back(describe_mask(r.mask) + " " + r.name);
  return out;
}

bool queue_too_large(uint64_t queue) {
  if (queue != 0 && queue <= 100'000) return false;
  MESSAGE("SKIPPED: fs.inotify.max_queued_events is " << queue << ": too large a tree needed");
  return true;
}

// `branches` directories under `top`, 99 more in each.
void make_branches(const std::string& top, uint64_t branches) {
  for (uint64_t b = 0; b < branches; ++b) {
    const std::string branch = top + "/b" + std::to_string(b);
    REQUIRE(mkdir(branch.c_str(), 0755) == 0);
    for (int d = 0; d < 99; ++d) mkdir((branch + "/d" + std::to_string(d)).c_str(), 0755);
  }
}

// An inotify watcher on `root` with its catch-up, started and run until it is ready.
struct LiveWatcher {
  explicit LiveWatcher(const std::string& root) {
    REQUIRE(uv_loop_init(&loop) == 0);
    WatchOptions options;
    options.roots.push_back({root, {}});
    options.catch_up.enabled = true;
    options.catch_up.on_ready = [this] { ready = true; };
    const auto sink = [this](std::vector<FileAction>&& batch) {
      for (FileAction& a : batch) actions.push_back(std::move(a));
    };
    std::string error;
    watcher = start_inotify_watcher(&loop, options, sink, {}, error);
    REQUIRE(watcher != nullptr);
    // Bounds each UV_RUN_ONCE of a wait: one whose condition never comes ends at the deadline.
    uv_timer_init(&loop, &wake);
    uv_timer_start(&wake, [](uv_timer_t*) {}, 5, 5);
    while (!ready && std::chrono::steady_clock::now() < deadline) uv_run(&loop, UV_RUN_ONCE);
    REQUIRE(ready);
  }
  ~LiveWatcher() {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
    watcher->close([] {});
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }
  bool named(const std::string& path) const {
    return std::any_of(actions.begin(), actions.end(),
                       [&](const FileAction& a) { return a.path == path; });
  }

  uv_loop_t loop;
  uv_timer_t wake{};
  bool ready = false;
  std::vector<FileAction> actions;
  std::unique_ptr<Watcher> watcher;
  const std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
};

}  // namespace

TEST_CASE("listing records: a directory opened, read or closed unwritten, nothing else") {
  CHECK(is_listing_record(IN_OPEN | IN_ISDIR));
  CHECK(is_listing_record(IN_CLOSE_NOWRITE | IN_ISDIR));
  CHECK(is_listing_record(IN_ACCESS | IN_ISDIR));
  CHECK_FALSE(is_listing_record(IN_ISDIR));
  CHECK_FALSE(is_listing_record(IN_OPEN));  // a file opened: maybe a read or a write
  CHECK_FALSE(is_listing_record(IN_CLOSE_NOWRITE));
  CHECK_FALSE(is_listing_record(IN_CREATE | IN_ISDIR));
  CHECK_FALSE(is_listing_record(IN_MOVED_FROM | IN_ISDIR));
  CHECK_FALSE(is_listing_record(IN_Q_OVERFLOW));
}

TEST_CASE("kernel: sifting the queue drops the listings and keeps every other record in order") {
  folderhook::test::TempDir root;
  REQUIRE(mkdir((root.path() + "/sub").c_str(), 0755) == 0);
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(fd >= 0);
  RealFileSystem fs(fd);
  REQUIRE(fs.add_watch(root.path()) >= 0);
  REQUIRE(fs.add_watch(root.path() + "/sub") >= 0);
  list(root.path() + "/sub");  // a listing: records on both watches
  touch(root.path() + "/a");
  list(root.path());
  { std::ifstream read_it(root.path() + "/a"); }  // a read: OPEN and CLOSE_NOWRITE of a file
  fs.sift_queue();
  touch(root.path() + "/b");
  fs.sift_queue();
  CHECK(describe(fs.take_held()) ==
        std::vector<std::string>{"CREATE a", "OPEN a", "CLOSE_WRITE a", "OPEN a",
                                 "CLOSE_NOWRITE a", "CREATE b", "OPEN b", "CLOSE_WRITE b"});
  CHECK(fs.take_held().empty());
  close(fd);
}

TEST_CASE("kernel: past the cap, sifting keeps one overflow record for what it drops") {
  folderhook::test::TempDir root;
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(fd >= 0);
  RealFileSystem fs(fd);
  REQUIRE(fs.add_watch(root.path()) >= 0);
  // Each touch queues CREATE, OPEN and CLOSE_WRITE; sift often enough that the kernel's own
  // queue never fills, until more than the cap is kept.
  const std::size_t files = RealFileSystem::kMaxHeld / 3 + 10;
  for (std::size_t i = 0; i < files; ++i) {
    touch(root.path() + "/f" + std::to_string(i));
    if (i % 1000 == 999) fs.sift_queue();
  }
  fs.sift_queue();
  const std::vector<RawRecord> held = fs.take_held();
  REQUIRE(held.size() == RealFileSystem::kMaxHeld + 1);
  CHECK(held.front().name == "f0");
  CHECK(held.back().mask == IN_Q_OVERFLOW);
  CHECK(held[held.size() - 2].mask != IN_Q_OVERFLOW);
  close(fd);
}

TEST_CASE("kernel: a start walk whose listings alone would fill the kernel queue does not overflow it") {
  const uint64_t queue = max_queued_events();
  if (queue_too_large(queue)) return;
  // Every directory listed queues two to four records (open and close, on its own watch and
  // on its parent's): as many directories as the queue holds records is twice too many.
  const uint64_t branches = queue / 100 + 1;
  folderhook::test::TempDir root;
  make_branches(root.path(), branches);
  LiveWatcher live(root.path());
  // Everything queued before this create is read before it.
  const std::string marker = root.path() + "/b0/marker";
  touch(marker);
  while (!live.named(marker) && std::chrono::steady_clock::now() < live.deadline) {
    uv_run(&live.loop, UV_RUN_ONCE);
  }
  REQUIRE(live.named(marker));
  CHECK(live.watcher->stats().watches == 1 + branches * 100);
  CHECK(live.watcher->stats().overflows == 0);
  CHECK(live.watcher->stats().rescans == 0);
}

TEST_CASE("kernel: a tree moved in whose listings alone would fill the kernel queue does not overflow it") {
  // The walk of a directory moved in runs on the loop, between two reads of the queue: it
  // sifts the queue as the start walk does, and what it keeps is fed right after.
  const uint64_t queue = max_queued_events();
  if (queue_too_large(queue)) return;
  const uint64_t branches = queue / 100 + 1;
  folderhook::test::TempDir outside;
  folderhook::test::TempDir root;
  const std::string tree = outside.path() + "/tree";
  REQUIRE(mkdir(tree.c_str(), 0755) == 0);
  make_branches(tree, branches);
  LiveWatcher live(root.path());
  REQUIRE(rename(tree.c_str(), (root.path() + "/tree").c_str()) == 0);
  // Made while nothing reads the queue yet: it must come out after the tree, not be lost.
  touch(root.path() + "/before-the-walk");
  const std::string marker = root.path() + "/tree/b0/marker";
  bool marked = false;
  while (!live.named(marker) && std::chrono::steady_clock::now() < live.deadline) {
    uv_run(&live.loop, UV_RUN_ONCE);
    // Once the tree is watched, everything queued before this create is read before it.
    if (!marked && live.watcher->stats().watches > branches * 100) {
      touch(marker);
      marked = true;
    }
  }
  REQUIRE(live.named(marker));
  const auto count = [&](Action action, ObjectType type, const std::string& path) {
    return std::count_if(live.actions.begin(), live.actions.end(), [&](const FileAction& a) {
      return a.action == action && a.type == type && (path.empty() || a.path == path);
    });
  };
  CHECK(count(Action::kCreate, ObjectType::kDirectory, "") ==
        static_cast<std::ptrdiff_t>(1 + branches * 100));
  CHECK(count(Action::kCreate, ObjectType::kFile, root.path() + "/before-the-walk") == 1);
  CHECK(live.watcher->stats().overflows == 0);
  CHECK(live.watcher->stats().rescans == 0);
}

}  // namespace folderhook::watch
