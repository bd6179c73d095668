// The wall clock in milliseconds since the epoch: what the agent records and compares for
// times that outlive the process (behavior runs, the heartbeat, the status page).
#pragma once

#include <chrono>
#include <cstdint>

namespace folderhook::agent {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace folderhook::agent
