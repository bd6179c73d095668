// Logger: the one log callback every library takes (watch/, delivery/, agent/, relay/), declared
// here so that none of them has to include another for it. The agent's Log (agent/log.h) writes
// each call as one log line.
//
// Which thread calls it is each taker's contract, stated where the Logger is taken: watch/ calls
// it on the loop thread; delivery/ from its own threads, so the function it is given must be
// thread-safe. It must not block for long and must not throw.
#pragma once

#include <functional>
#include <string_view>

// Only the declaration of nlohmann::json: this header stays cheap. Whoever builds the fields
// (`{{"error", why}}`) includes <nlohmann/json.hpp>.
#include <nlohmann/json_fwd.hpp>

namespace folderhook {

// level is "debug", "info", "warn" or "error"; msg a short fixed sentence; fields extra
// structured context (a JSON object, possibly empty).
using Logger = std::function<void(std::string_view level, std::string_view msg,
                                  const nlohmann::json& fields)>;

}  // namespace folderhook
