// The commands that read or act on a rules file and its state without running the agent:
// status, replay, dead-letters, test-hook, behaviors --dry-run. Each returns the process exit code and
// prints its own errors.
#pragma once

#include <optional>
#include <string>

#include "agent/config.h"

namespace folderhook::agent {

int status_command(const Config& config, bool json);
// `since` is an ISO 8601 UTC time ("2026-11-26T10:00:00Z" or "...+00:00") or "". Each dead
// letter goes to its folder's URLs, method, headers and secret as `config` gives them, or with
// the stored ones when `stored` (or when its folder is no longer in the rules: said on stdout).
// An `id` that is not a dead letter is exit 1.
int replay_command(const Config& config, const std::string& since, const std::string& id,
                   bool stored);
// One dead letter per line (or one JSON object per line): id, action, path, URLs (masked),
// last status and error, when it died.
int dead_letters_command(const Config& config, bool json);
int test_hook_command(const Config& config, const std::string& folder_path);
int behaviors_dry_run_command(const Config& config);

}  // namespace folderhook::agent
