// The JSON object of an operation's fields: the body of a `method = "POST"` webhook and of a
// NATS message. Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace folderhook::delivery {

// One member per field, in order. JSON cannot hold bytes that are not UTF-8: such a value is
// given with U+FFFD in their place, and its exact bytes as base64 in "<field>_base64".
nlohmann::json fields_json(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace folderhook::delivery
