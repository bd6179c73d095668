// The relay's file: rules.toml's schema where it applies ([agent] log_file, log_format and
// status_listen; [[folder]] path, urls, method, headers, secret, actions, include, exclude and
// the other filters; [delivery]; [notify]) plus [relay]. A [[folder]]'s path is the prefix of
// the `path` field of the messages it routes: nothing is watched. Parsing is pure but for
// reading the file.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/config.h"
#include "delivery/nats/nats_url.h"

namespace folderhook::relay {

inline constexpr const char* kDefaultConsumer = "folderhook-relay";

struct RelaySettings {
  std::string source;      // as written, for messages (masked when shown)
  delivery::NatsUrl url;   // servers and user:password; url.subject is the stream's name
  std::string stream;
  std::string consumer = kDefaultConsumer;
  std::string dead_stream;   // default: "<stream>_DEAD"
  std::string dead_subject;  // default: "folderhook.dead.<stream>"
  std::string token;         // nats_token
  std::string creds_file;    // nats_creds, absolute
  int batch = 16;            // messages fetched at once (handled one by one, in order)
  // How long the server waits for an answer about a message before it gives it to another
  // relay. 0: derived from [delivery] timeout and the longest URL list (ack_wait_for()).
  std::chrono::milliseconds ack_wait{0};
};

struct RelayConfig {
  agent::Config base;  // [agent], [[folder]], [delivery], [notify]
  RelaySettings relay;
};

// true when the file has a [relay] table (so that check, status, replay and dead-letters
// treat it as a relay's). false when it cannot be read or parsed: the agent's commands then
// report why.
bool is_relay_file(const std::string& file);

// Reads and checks the file; every problem goes to `errors` (FILE:LINE:COL: message).
std::optional<RelayConfig> load_relay_config(const std::string& file,
                                             std::vector<agent::ConfigError>& errors);

// The consumer's AckWait: what the relay may spend on one message (every URL of the longest
// list timing out, twice) with a floor of 30 s, unless [relay] ack_wait says otherwise.
std::chrono::milliseconds ack_wait_for(const RelayConfig& config);

// A stream or consumer name JetStream accepts: not empty, no '.', '*', '>', '/', '\\' or space.
bool valid_jetstream_name(const std::string& name);

}  // namespace folderhook::relay
