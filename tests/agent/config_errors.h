// Parsing a rules file in a test: its errors as FILE:LINE:COL lines, for the suites that check
// what parse_config() says about a rules file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "agent/config.h"

namespace folderhook::agent::testing {

// Parses `text` as "rules.toml" relative to /base; the errors as FILE:LINE:COL lines, and what
// parse_config() returned in `config` when asked.
inline std::vector<std::string> config_errors(const std::string& text,
                                              std::optional<Config>* config = nullptr) {
  std::vector<ConfigError> errors;
  auto parsed = parse_config(text, "rules.toml", "/base", errors);
  if (config) *config = std::move(parsed);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

// The one error `text` gives; the test fails when it gives none or more.
inline std::string one_error(const std::string& text) {
  const auto errors = config_errors(text);
  REQUIRE_MESSAGE(errors.size() == 1, text);
  return errors[0];
}

// A [[folder]] on /srv/in that sends to http://a/hook (lines 1 to 3), then `extra`.
inline std::string folder_with(const std::string& extra) {
  return "[[folder]]\npath = \"/srv/in\"\nurls = [\"http://a/hook\"]\n" + extra;
}

// Whether `text` says `part` (the rest of a message may change).
inline bool says(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace folderhook::agent::testing
