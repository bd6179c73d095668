// The dead letters as the command line reads and replays them, also while an agent runs on the
// state_dir (SQLite WAL lets a second writer in beside the agent's connection).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "delivery/request.h"

namespace folderhook::delivery {

struct DeadLetterRow {
  std::string id;
  std::string action;  // "" when the stored request cannot be decoded
  std::string path;
  std::vector<std::string> urls;  // as stored, unmasked: the caller masks them for display
  int attempts = 0;
  int last_status = 0;  // 0 = no response
  std::string last_error;
  int64_t died_ms = 0;
};

// Every dead letter, oldest first. nullopt and `error` when the outbox cannot be read.
std::optional<std::vector<DeadLetterRow>> list_dead_letters(const std::string& state_dir,
                                                            std::string& error);

// Given the request as it died, the request to put back (the id must stay the same).
using ReplayRewrite = std::function<Request(const Request& stored)>;

// Moves dead letters back into the outbox with their ids, attempts reset: those that died at
// or after since_unix_ms, and/or the one with `id`. Each decodable request goes through
// `rewrite` first (an undecodable one goes back as stored). One transaction: the rewrite must
// not do I/O. A running agent picks them up within a few seconds; otherwise the next start
// sends them. Returns how many moved, or -1 and `error`.
int replay_dead_letters(const std::string& state_dir, std::optional<int64_t> since_unix_ms,
                        const std::optional<std::string>& id, const ReplayRewrite& rewrite,
                        std::string& error);

}  // namespace folderhook::delivery
