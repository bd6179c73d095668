// Durations and sizes as rules.toml writes them: "2h" (formatted), "10MiB" (parsed).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace folderhook::agent {

// Durations are parsed by delivery::parse_duration (delivery/retry.h), the one parser of them.
std::string format_duration(std::chrono::milliseconds d);

// A non-negative integer and a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000).
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace folderhook::agent
