// Setting up the JetStream stream that NATS URLs publish into, with nothing but folderhook
// (Debian has no `nats` CLI): the `nats-stream` command. Creates the stream, or updates it when
// one of that name exists (JetStream refuses changes it cannot make, e.g. of replicas, and says
// why).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "delivery/sink.h"

namespace folderhook::delivery {

struct NatsStreamSpec {
  std::string name;
  std::vector<std::string> subjects;  // filters ("files.*")
  int replicas = 1;
  bool memory = false;  // memory storage instead of file
  // How long JetStream remembers a Nats-Msg-Id to drop a re-sent message (README: the window
  // must cover the longest time between two sends of one delivery).
  std::chrono::milliseconds duplicate_window{std::chrono::hours(2)};
  std::chrono::milliseconds max_age{0};  // 0 = messages are kept until removed
};

// The subject filter that captures every subject a NATS URL's subject template publishes to:
// {action} becomes the wildcard '*'.
std::string nats_subject_filter(const std::string& subject_template);

// Connects through `url` (its servers, user:password) with `settings` (nats_token,
// nats_creds), then creates or updates the stream. true and `summary` (one line: what the
// stream is now), or false and `error`.
bool ensure_nats_stream(const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& settings,
                        const NatsStreamSpec& spec, const SinkOptions& options,
                        std::string& summary, std::string& error);

}  // namespace folderhook::delivery
