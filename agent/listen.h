// `folderhook listen`: a receiver for people trying rules out. Prints each webhook it gets,
// one line each, and answers 200.
#pragma once

#include <string>

namespace folderhook::agent {

// Serves until SIGINT/SIGTERM. Returns the exit code (2 when the port cannot be bound).
int run_listen(const std::string& host, int port);

}  // namespace folderhook::agent
