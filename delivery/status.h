// What `status` reads in a state_dir, also while an agent runs on it (SQLite WAL lets a
// reader in beside the agent's connection), and the sending of `test-hook`. The dead letters'
// listing and replay are in dead_letters.h.
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
