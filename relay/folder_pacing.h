// FolderPacing: a [[folder]]'s max_per_second in the relay (issue 20), with the agent's token
// bucket (delivery/rate.h): every attempt for the folder, a first delivery or a redelivery (a
// retry) alike, and a batch as one, takes a token. The limit holds per relay process: M relays
// on one consumer may together start M times the rate. A message waiting for a token stays
// unacknowledged in JetStream (the caller keeps it in progress) and holds up the messages behind
// it, so each folder still gets its messages in stream order. Owned by the relay's one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>

#include "agent/config.h"
#include "delivery/rate.h"

namespace folderhook::relay {

class FolderPacing {
 public:
  // `folders` must outlive this (the relay's config): buckets are keyed by rule.
  explicit FolderPacing(const std::vector<agent::FolderRule>& folders);

  // Waits until `rule` may start an attempt and takes its token (at once for a folder without
  // max_per_second). While it waits, calls `keep_alive` every `touch_every` or so. false when
  // `stop` was set before the token came (nothing taken).
  bool wait_turn(const agent::FolderRule& rule, const std::atomic<bool>& stop,
                 std::chrono::milliseconds touch_every, const std::function<void()>& keep_alive);

  // How many messages to fetch at once: `batch`, or, when every folder has max_per_second,
  // what they can start together in `wait` (at least 1), so that the rest stays in the stream
  // for other relays rather than waiting here.
  int fetch_size(int batch, std::chrono::milliseconds wait) const;

 private:
  std::map<const agent::FolderRule*, delivery::TokenBucket> buckets_;  // paced folders only
  bool all_paced_ = false;
  double total_rate_ = 0;
};

}  // namespace folderhook::relay
