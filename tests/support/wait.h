// Waiting on a condition with a deadline: the tests' only way to wait.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace folderhook::test {

// Polls `done` every few milliseconds until it is true or `timeout` passes. For conditions
// that have no notification to wait on (a file's content, a process's exit).
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs `step` until `done` is true or `timeout` passes: for conditions that a loop's callbacks
// bring about, where the step is one turn of the loop (uv_run(loop, UV_RUN_ONCE)). A step that
// may block must be bounded (a timer on the loop) for the timeout to hold.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       const std::function<void()>& step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    step();
  }
  return true;
}

}  // namespace folderhook::test
