// Start-up on a large tree: how long each backend takes until it is ready (start_*_watcher
// returns: every operation from then on is seen), and for fanotify how long its background
// index takes after that. The tree is made once under the given folder and reused.
//
//   watch_startup_bench [FOLDER [DIRECTORIES]]    (default /tmp/folderhook-bench, 100000)
#include <sys/stat.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "watch/watcher.h"

namespace {

using Clock = std::chrono::steady_clock;
using folderhook::watch::FileAction;
using folderhook::watch::WatchOptions;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// DIRECTORIES directories as 100 branches of equal size, plus a marker saying it is complete.
void make_tree(const std::string& root, long directories) {
  const std::string marker = root + "/.complete-" + std::to_string(directories);
  if (std::filesystem::exists(marker)) return;
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/tree");
  const long per_branch = directories / 100;
  std::fprintf(stderr, "making %ld directories under %s/tree ...\n", 100 + 100 * per_branch,
               root.c_str());
  for (long b = 0; b < 100; ++b) {
    const std::string branch = root + "/tree/b" + std::to_string(b);
    ::mkdir(branch.c_str(), 0755);
    for (long d = 0; d < per_branch; ++d) ::mkdir((branch + "/d" + std::to_string(d)).c_str(), 0755);
  }
  std::fclose(std::fopen(marker.c_str(), "w"));
}

struct Result {
  double ready_ms = 0;
  double indexed_ms = 0;
  uint64_t watches = 0;
};

Result measure(bool fanotify, const std::string& tree) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  WatchOptions options;
  options.roots.push_back({tree, {}});
  std::string error;
  const auto sink = [](std::vector<FileAction>&&) {};
  const auto start = Clock::now();
  auto watcher = fanotify ? folderhook::watch::start_fanotify_watcher(&loop, options, sink, {}, error)
                          : folderhook::watch::start_inotify_watcher(&loop, options, sink, {}, error);
  Result result;
  result.ready_ms = ms_since(start);
  if (!watcher) {
    std::fprintf(stderr, "%s: %s\n", fanotify ? "fanotify" : "inotify", error.c_str());
    std::exit(1);
  }
  while (watcher->stats().indexing) uv_run(&loop, UV_RUN_ONCE);
  result.indexed_ms = ms_since(start);
  result.watches = watcher->stats().watches;
  watcher->close([] {});
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : "/tmp/folderhook-bench";
  const long directories = argc > 2 ? std::atol(argv[2]) : 100000;
  make_tree(root, directories);
  const std::string tree = root + "/tree";
  for (int round = 1; round <= 3; ++round) {  // the first round also warms the dentry cache
    const Result ino = measure(false, tree);
    const Result fan = measure(true, tree);
    std::printf("round %d: inotify ready %.1f ms (%lu watches) | fanotify ready %.2f ms, index "
                "built %.1f ms (%lu directories) | ready ratio %.0fx\n",
                round, ino.ready_ms, static_cast<unsigned long>(ino.watches), fan.ready_ms,
                fan.indexed_ms, static_cast<unsigned long>(fan.watches),
                ino.ready_ms / fan.ready_ms);
  }
  return 0;
}
