// The relay: turns the messages of a JetStream stream into the agent's webhooks. Any number of
// relays share one durable pull consumer and hold no state of their own: a message is
// acknowledged only once a URL accepted it (or it became a dead letter), a failed one is
// handed back with a delay from [delivery] retry (its delivery count is the attempt number),
// and a relay that dies leaves its messages to be handed out again after the consumer's
// AckWait. Messages of one fetch are handled one by one in stream order.
#pragma once

#include <atomic>
#include <cstdint>

#include "agent/log.h"
#include "relay/relay_config.h"

namespace folderhook::relay {

// What a relay did since it started, for the log, /metrics and status (thread-safe counters).
struct RelayCounters {
  std::atomic<uint64_t> received{0};    // messages fetched
  std::atomic<uint64_t> delivered{0};   // acknowledged after a URL accepted them
  std::atomic<uint64_t> retried{0};     // handed back with a delay
  std::atomic<uint64_t> dead{0};        // made dead letters
  std::atomic<uint64_t> unrouted{0};    // acknowledged: no [[folder]] wants them
  std::atomic<uint64_t> attempts{0};    // requests sent (one per URL tried)
  std::atomic<bool> connected{false};   // the consumer is bound and answering
};

// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it starts later (the
// log's, nats.c's, the status server's): run_relay takes them with sigwait. Call it first.
void block_stop_signals();

// Runs until SIGTERM or SIGINT. Returns the process exit code.
int run_relay(const RelayConfig& config, agent::Log& log);

}  // namespace folderhook::relay
