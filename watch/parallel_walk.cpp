#include "watch/parallel_walk.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace folderhook::watch {

namespace {

// What the threads of one run() share, under `mutex`.
struct Shared {
  std::mutex mutex;
  std::condition_variable work;         // helpers: a directory to take, or stop
  std::condition_variable ready;        // the caller: a listing to apply, or the walk is over
  std::vector<std::string> stack;       // directories to watch and list; the back is taken first
  std::deque<WalkedDirectory> waiting;  // listed, not yet applied, in the order they were
  std::size_t in_flight = 0;            // taken from the stack, not yet in `waiting` or applied
  std::size_t by_helpers = 0;
  bool stop = false;
  std::exception_ptr failure;  // a helper's

  // A thread may take a directory now.
  bool can_take() const { return !stack.empty() && waiting.size() < ParallelWalk::kMaxWaiting; }
  bool over() const { return stack.empty() && in_flight == 0 && waiting.empty(); }
};

}  // namespace

std::size_t ParallelWalk::default_helpers() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores <= 1 ? 0 : std::min<std::size_t>(cores - 1, 3);
}

ParallelWalk::ParallelWalk(FileSystem& fs, std::size_t helpers,
                           std::function<bool(const std::string&)> descend,
                           const std::atomic<bool>* cancel)
    : fs_(fs), helpers_(helpers), descend_(std::move(descend)), cancel_(cancel) {}

void ParallelWalk::run(const std::string& top, const std::function<void(WalkedDirectory&)>& apply) {
  Shared shared;
  shared.stack.push_back(top);
  by_helpers_ = 0;

  // With the lock held: takes the directory on top of the stack, watches then lists it with
  // the lock released, and, locked again, puts its subdirectories on the stack (first name on
  // top). The caller hands the listing over in the same critical section, so a directory
  // always reaches `waiting` (or apply()) before any directory beneath it can be taken.
  const auto take_and_walk = [&](std::unique_lock<std::mutex>& lock) {
    WalkedDirectory walked;
    walked.path = std::move(shared.stack.back());
    shared.stack.pop_back();
    ++shared.in_flight;
    lock.unlock();
    walked.wd = fs_.add_watch(walked.path);
    if (walked.wd >= 0 || walked.wd == -ENOSPC) walked.entries = fs_.list_stat(walked.path);
    std::vector<std::string> subdirs;
    for (const DirEntry& entry : walked.entries) {
      if (entry.info.kind != FileKind::kDirectory) continue;
      std::string sub = walked.path == "/" ? "/" + entry.name : walked.path + "/" + entry.name;
      if (descend_(sub)) subdirs.push_back(std::move(sub));
    }
    lock.lock();
    --shared.in_flight;
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) {
      shared.stack.push_back(std::move(*it));
    }
    if (!subdirs.empty()) shared.work.notify_all();
    return walked;
  };
  const auto cancelled = [&] { return cancel_ && cancel_->load(std::memory_order_relaxed); };

  const auto helper = [&] {
    pthread_setname_np(pthread_self(), "walk");
    try {
      std::unique_lock lock(shared.mutex);
      for (;;) {
        shared.work.wait(lock, [&] { return shared.stop || shared.can_take(); });
        if (shared.stop || cancelled()) return;
        shared.waiting.push_back(take_and_walk(lock));
        ++shared.by_helpers;
        shared.ready.notify_one();
      }
    } catch (...) {
      std::lock_guard lock(shared.mutex);
      if (!shared.failure) shared.failure = std::current_exception();
      shared.stop = true;
      shared.work.notify_all();
      shared.ready.notify_one();
    }
  };

  std::vector<std::thread> threads;
  // Whatever way run() leaves, the helpers are stopped and joined first.
  struct Joiner {
    Shared& shared;
    std::vector<std::thread>& threads;
    ~Joiner() {
      {
        std::lock_guard lock(shared.mutex);
        shared.stop = true;
      }
      shared.work.notify_all();
      for (std::thread& thread : threads) thread.join();
    }
  } joiner{shared, threads};
  for (std::size_t i = 0; i < helpers_; ++i) {
    try {
      threads.emplace_back(helper);
    } catch (const std::system_error&) {
      break;  // no thread to be had: the caller's thread walks what the others would have
    }
  }

  std::deque<WalkedDirectory> batch;
  std::unique_lock lock(shared.mutex);
  for (;;) {
    if (shared.failure) break;
    if (!shared.waiting.empty()) {
      batch.swap(shared.waiting);
      shared.work.notify_all();  // room in `waiting` again
      lock.unlock();
      for (WalkedDirectory& walked : batch) {
        if (cancelled()) break;  // what waits is dropped: the walk is being abandoned
        apply(walked);
      }
      batch.clear();
      lock.lock();
      continue;
    }
    if (cancelled() || shared.over()) break;
    if (shared.can_take()) {
      // Nothing to apply: walk one directory here rather than wait.
      WalkedDirectory walked = take_and_walk(lock);
      lock.unlock();
      apply(walked);
      lock.lock();
      continue;
    }
    shared.ready.wait(lock);
  }
  by_helpers_ = shared.by_helpers;
  const std::exception_ptr failure = shared.failure;
  lock.unlock();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace folderhook::watch
