// `folderhook nats-stream`: creates (or updates) the JetStream stream a folder's NATS URLs
// publish into, through the folder's first NATS URL and its credentials.
#pragma once

#include <string>

#include "agent/config.h"

namespace folderhook::agent {

struct NatsStreamArgs {
  std::string folder;  // absolute, as rules.toml gives it
  std::string name;
  int replicas = 1;
  bool memory = false;
  std::string duplicate_window = "2h";
  std::string max_age;  // "" = kept until removed
};

// Exit code: 0 done (one line saying what the stream is now), 1 the server refused or cannot
// be reached, 2 bad arguments.
int nats_stream_command(const Config& config, const NatsStreamArgs& args);

}  // namespace folderhook::agent
