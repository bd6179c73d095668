// The relay's insides, shared by relay.cpp (the fetch loop, stop signals) and relay_deliver.cpp
// (one message, or one batch: the attempt, then the acknowledgement, the retry or the dead
// letter). Not for other callers: relay.h is the relay's face.
//
// Fetched messages wait in `pending_`, decoded and routed once, in the order the server handed
// them out; they are handled from the front one at a time, and all of them are answered before
// the next fetch. A batch may fetch more while it forms (batch_wait). Everything here runs on the
// relay's one thread; only abort() is called from the signal thread.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/log.h"
#include "delivery/sink_set.h"
#include "relay/dead_email.h"
#include "relay/folder_pacing.h"
#include "relay/message.h"
#include "relay/relay.h"
#include "relay/relay_batch.h"
#include "relay/stream_consumer.h"

namespace folderhook::relay::detail {

using RelayClock = std::chrono::steady_clock;

// What became of one message (or batch): every routed URL set's attempt, folded.
struct Outcome {
  bool delivered = true;
  bool rejected = true;  // every failed set refused it for good: dead at once
  bool aborted = false;  // a stop abandoned an attempt: not a failure
  std::optional<delivery::Millis> retry_after;
  int status = 0;
  std::string error;
  std::string url;
  std::string rule;
};

// A fetched message, decoded and routed once.
struct Pending {
  Fetched m;
  std::optional<Fields> fields;  // nullopt: not an operation (`why`)
  std::string why;
  Routes rules;
  RelayClock::time_point fetched_at;
};

class Relay {
 public:
  Relay(const RelayConfig& config, agent::Log& log);
  int run(const std::atomic<bool>& stop);
  void abort() { sinks_.abort(); }

 private:
  // relay.cpp
  void add_fetched(std::vector<Fetched>&& batch);
  void keep_alive();        // every pending message in progress (another AckWait)
  void maybe_keep_alive();  // the same, once a third of AckWait has passed since the last
  void hand_back_pending();
  void drain();             // handles pending_ until empty or stopped
  // relay_deliver.cpp
  void handle_front();
  void handle_batch();
  std::vector<size_t> batch_now() const;
  Outcome deliver(const Pending& p);
  void finish(const std::vector<Pending*>& members, const Outcome& o, const std::string& id,
              int64_t ms);
  void make_dead(Pending& p, const Outcome& o);
  void log_delivery(std::string_view level, const Pending& p, const std::string& id, int attempt,
                    const Outcome& o, std::string_view outcome, int64_t ms, size_t batch,
                    const std::string& next_at = "");

  const RelayConfig& config_;
  agent::Log& log_;
  delivery::SinkSet sinks_;
  DeadEmail email_;
  FolderPacing pacing_;
  RelayCounters counters_;
  std::mt19937_64 rng_;
  const std::atomic<bool>* stop_ = nullptr;
  StreamConsumer* consumer_ = nullptr;  // while run() has one
  std::chrono::milliseconds touch_every_{10'000};
  RelayClock::time_point touched_{};
  std::deque<Pending> pending_;
};

int64_t relay_now_ms();

}  // namespace folderhook::relay::detail
