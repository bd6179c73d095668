// What the command line reads and changes in a state_dir, also while an agent runs on it
// (SQLite WAL lets a reader and a second writer in beside the agent's connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery/dispatcher.h"
#include "delivery/request.h"

namespace folderhook::delivery {

// {"pending": N, "retrying": N, "oldest_pending_age_s": S|null, "oldest_pending_at": ISO|null,
//  "dead_letters": N, "dead_letters_not_emailed": N, "last_dead_at": ISO|null,
//  "urls": [{"url" (masked), "last_status", "last_error", "consecutive_failures",
//            "last_success_at": ISO|null, "last_attempt_at": ISO}]}
// On failure returns null json and sets `error` (e.g. no outbox.db in state_dir).
nlohmann::json read_status(const std::string& state_dir, std::string& error);

// Moves dead letters back into the outbox with their ids, attempts reset: those that died at
// or after since_unix_ms, and/or the one with `id`. A running agent picks them up within a
// few seconds; otherwise the next start sends them. Returns how many moved, or -1 and `error`.
int replay_dead_letters(const std::string& state_dir, std::optional<int64_t> since_unix_ms,
                        const std::optional<std::string>& id, std::string& error);

struct TestHookResult {
  std::string url;    // masked
  int status = 0;     // 0 if no response
  std::string error;  // "" when the URL accepted (per options.success)
  int64_t ms = 0;
  bool ok = false;
};

// test-hook: sends `request` synchronously to each of its URLs in turn (every URL, not only
// until one accepts), with the same headers a real delivery carries and a fresh id when
// request.id is empty. Uses options.timeout, success, user_agent and ca_file; no outbox.
std::vector<TestHookResult> send_test(const Request& request, const DispatcherOptions& options);

}  // namespace folderhook::delivery
