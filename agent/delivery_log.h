// The "delivery" line of each attempt (README, Log fields), written by the agent's Log without
// the JSON object that delivery/'s Logger fallback builds (delivery::attempt_fields): the same
// bytes for a fraction of the cost. Called on the dispatcher's writer thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "agent/log.h"
#include "delivery/dispatcher.h"

namespace folderhook::agent {

// The line in JSON, for a given time (what attempt_line gives when the Log writes JSON).
std::string format_attempt_line(std::chrono::system_clock::time_point ts,
                                const delivery::AttemptLog& entry);

// The line as `log` writes it (JSON or text, as it is set), for Log::write_lines.
std::string attempt_line(const Log& log, const delivery::AttemptLog& entry);

}  // namespace folderhook::agent
