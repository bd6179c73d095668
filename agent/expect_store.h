// The expectations' records in state_dir: expectations.db, a SQLite file of its own (0600) so
// that the loop's rare writes never wait on the outbox's writer, and `status` reads it beside
// a running agent. Each call opens and closes the file: a write happens at a deadline or at a
// file's first arrival after one, so a few per day. Blocking: the agent calls it from libuv's
// thread pool, `status` from its main thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/expect_tracker.h"

namespace folderhook::agent {

// Every stored record; an empty list when the file does not exist yet. nullopt with `error`
// when it cannot be read.
std::optional<std::vector<ExpectRecord>> load_expect_records(const std::string& state_dir,
                                                             std::string& error);
// Inserts or replaces `records` (by folder and name) in one transaction, creating the file.
bool save_expect_records(const std::string& state_dir, const std::vector<ExpectRecord>& records,
                         std::string& error);

// What `status` and the status endpoint's GET /expectations show: a JSON array of
// {"folder", "expectation", "include", "last_deadline" (ISO UTC|null), "outcome" ("met",
// "missed", "late-arrived", or "none" before the first deadline), "next_deadline"}.
// null with `error` when the records cannot be read.
nlohmann::json expectations_status(const std::string& state_dir, std::string& error);

}  // namespace folderhook::agent
