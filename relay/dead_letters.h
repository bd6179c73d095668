// The relay's dead letters: the messages of the dead-letter stream ([relay] dead_stream, on
// dead_subject), as `folderhook dead-letters` lists them and `folderhook replay` puts them back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/stream_consumer.h"

namespace folderhook::relay {

struct RelayDeadLetter {
  uint64_t seq = 0;  // in the dead-letter stream
  DeadInfo info;
  std::string action;
  std::string path;
};

// Every dead letter, oldest first; nullopt and `error` when the stream cannot be read.
std::optional<std::vector<RelayDeadLetter>> list_relay_dead_letters(StreamConsumer& consumer,
                                                                    std::string& error);

// Publishes the dead letters that died at or after since_unix_ms and/or have webhook-id `id`
// back into the source stream on their original subject (same data, same webhook-id, a new
// Nats-Msg-Id so that the stream does not drop it as a duplicate), then removes each from the
// dead-letter stream. The relays deliver them with their attempts counted from one. Returns how
// many, or -1 and `error`.
int replay_relay_dead_letters(StreamConsumer& consumer, std::optional<int64_t> since_unix_ms,
                              const std::optional<std::string>& id, std::string& error);

}  // namespace folderhook::relay
