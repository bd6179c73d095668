// The running agent: one libuv loop that owns the watcher, signals, the heartbeat, the rules
// file's reload, and the hand-off to the dispatcher. Called from the CLI after the config has
// been checked.
#pragma once

#include "agent/config.h"
#include "agent/log.h"

namespace folderhook::agent {

// Runs until SIGINT or SIGTERM. Returns the process exit code: 0 after a clean stop, 2 when
// the agent could not start (the reason is logged).
int run_agent(Config config, Log& log);

}  // namespace folderhook::agent
