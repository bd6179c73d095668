// ParallelWalk: the start walk of a tree, watched and listed by several threads at once.
//
// A walk is kernel work: each directory costs an inotify_add_watch and an open, getdents,
// fstatat of each entry and close. One thread leaves the second core idle. Here the caller's
// thread and `helpers` threads take directories from one stack; each one is watched, then
// listed (never the other way round: what is created after the watch is a record, what was
// there before it is in the listing), and its subdirectories go on the stack.
//
// What is learnt is handed to the caller's thread only (apply()), so the caller's structures
// need no lock. A directory is applied before anything beneath it. The walk holds back while
// `kMaxWaiting` listings wait for apply(): a caller that is slow to apply (its index store is
// behind) bounds the memory and the kernel records the listings leave queued.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "watch/file_system.h"

namespace folderhook::watch {

struct WalkedDirectory {
  std::string path;
  int wd = 0;                     // FileSystem::add_watch(): a wd, or -errno
  std::vector<DirEntry> entries;  // listed when watched, or when the watch limit was reached
};

class ParallelWalk {
 public:
  static constexpr std::size_t kMaxWaiting = 512;
  // Threads worth starting beside the caller's on this machine: one per further core, at most
  // three (measured on two cores only; beyond, the kernel's locks on the one inotify
  // instance are expected to bound it).
  static std::size_t default_helpers();

  // `fs` must allow add_watch() and list_stat() from several threads at once
  // (FileSystem::concurrent_walk()). `descend(path)`: whether a subdirectory is walked too
  // (false for ignored paths); called from any of the threads. `cancel` may be null.
  ParallelWalk(FileSystem& fs, std::size_t helpers, std::function<bool(const std::string&)> descend,
               const std::atomic<bool>* cancel);
  ParallelWalk(const ParallelWalk&) = delete;
  ParallelWalk& operator=(const ParallelWalk&) = delete;

  // Walks `top` and what is beneath it, calling apply() on this thread for each directory.
  // Returns when all are applied, or soon after `cancel` is set. What apply() throws stops the
  // helpers and is rethrown; so is what a helper throws (std::bad_alloc).
  void run(const std::string& top, const std::function<void(WalkedDirectory&)>& apply);

  // Directories watched and listed by the helpers in the last run() (for tests: the work
  // really was shared).
  std::size_t walked_by_helpers() const { return by_helpers_; }

 private:
  FileSystem& fs_;
  std::size_t helpers_;
  std::function<bool(const std::string&)> descend_;
  const std::atomic<bool>* cancel_;
  std::size_t by_helpers_ = 0;
};

}  // namespace folderhook::watch
