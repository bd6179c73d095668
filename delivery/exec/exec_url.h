// exec: URLs (`exec:/usr/local/bin/on-upload`): the program to run once per operation, and the
// pure parts of running it (its environment, the one-line error made of its stderr). The rule of
// the URL: "exec:" (any case) then the program's absolute path, taken literally (no arguments,
// no percent-decoding, no shell): what follows the colon is the file that is executed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/request.h"

namespace folderhook::delivery {

// The first bytes of a program's stderr kept as the attempt's error and dead-letter body.
constexpr size_t kExecStderrKept = 2048;

// The PATH a program runs with (its only variable besides the FOLDERHOOK_ ones).
inline constexpr std::string_view kExecPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// True when the URL's scheme is exec ("exec:", any case).
bool is_exec_url(std::string_view url);

// The program's path, or nullopt and `error` (one line) when the URL breaks the rule above.
std::optional<std::string> parse_exec_url(std::string_view url, std::string& error);

// What `check` adds to parse_exec_url: the program exists, is a regular file (after symlinks)
// and is executable by the agent's user. I/O (stat, access); false and `error` otherwise.
bool check_exec_program(const std::string& program, std::string& error);

// The whole environment of the program, "NAME=value": PATH=kExecPath, FOLDERHOOK_ID (the
// webhook-id), and FOLDERHOOK_<FIELD> for each field (upper case; any byte of the name that is
// not a letter, digit or '_' becomes '_'), each value its exact bytes. A value cannot hold NUL
// (no file name or field does): it would end at the first one.
std::vector<std::string> exec_environment(const Request& request);

// The program's stderr as one log-safe line: CR, LF, tabs and other control bytes become a
// space, runs of spaces one, trimmed at both ends; bytes that are not UTF-8 become U+FFFD.
std::string exec_stderr_line(std::string_view bytes);

}  // namespace folderhook::delivery
