// Metrics: counters the status endpoint renders in Prometheus' text format. Written from the
// loop thread (operations, watcher gauges) and from delivery's threads (attempts, through the
// log hook); read by the status server's thread. Everything is a relaxed atomic.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "watch/file_action.h"
#include "watch/watcher.h"

namespace folderhook::agent {

class Metrics {
 public:
  static constexpr std::array<int64_t, 11> kLatencyBucketsMs{5,   10,   25,   50,   100,  250,
                                                             500, 1000, 2500, 5000, 10000};

  void count_operation(watch::Action action);
  // One attempt as delivery/ logs it: outcome "delivered" | "retry" | "dead", duration in ms.
  void count_attempt(std::string_view outcome, int64_t ms);
  void set_watcher(const watch::WatchStats& stats);
  // The dispatcher's: the outbox cannot be written and `held` new requests wait in memory.
  void set_outbox(bool failing, uint64_t held);
  // The agent has logged "watching": every operation from here on is reported.
  void set_watching() { watching_.store(true, std::memory_order_relaxed); }
  void set_loop_alive_ms(int64_t unix_ms) { loop_alive_ms_.store(unix_ms, std::memory_order_relaxed); }

  int64_t loop_alive_ms() const { return loop_alive_ms_.load(std::memory_order_relaxed); }
  bool degraded() const { return degraded_.load(std::memory_order_relaxed); }
  bool watching() const { return watching_.load(std::memory_order_relaxed); }
  uint64_t missing_roots() const { return missing_roots_.load(std::memory_order_relaxed); }
  bool outbox_failing() const { return outbox_failing_.load(std::memory_order_relaxed); }
  uint64_t held_in_memory() const { return held_in_memory_.load(std::memory_order_relaxed); }

  // The exposition text. `status` is delivery::read_status() output (or null when it failed).
  std::string render(const nlohmann::json& status) const;

 private:
  std::array<std::atomic<uint64_t>, 6> operations_{};
  std::atomic<uint64_t> delivered_{0}, retried_{0}, dead_{0};
  std::array<std::atomic<uint64_t>, kLatencyBucketsMs.size()> latency_buckets_{};
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<uint64_t> latency_sum_ms_{0};
  std::atomic<uint64_t> watches_{0}, overflows_{0};
  std::atomic<bool> degraded_{false};
  std::atomic<uint64_t> missing_roots_{0}, actors_gone_{0}, held_in_memory_{0};
  std::atomic<bool> watching_{false}, outbox_failing_{false};
  std::atomic<int64_t> loop_alive_ms_{0};
};

}  // namespace folderhook::agent
