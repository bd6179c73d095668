// Durations and sizes as rules.toml writes them: "250ms", "10s", "5m", "2h", "3d"; "10MiB".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace folderhook::agent {

// A non-negative integer followed by one unit: ms, s, m, h, d. Nothing else is accepted.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

// A non-negative integer and a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000).
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace folderhook::agent
