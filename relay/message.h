// A message of the stream as the relay reads it: the JSON object of an operation's fields that
// an agent's NATS URL published (delivery/payload.h), and the request each [[folder]] that
// routes it gets. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "delivery/request.h"

namespace folderhook::relay {

using Fields = std::vector<std::pair<std::string, std::string>>;

// The fields of a message body, with their exact bytes ("<field>_base64" restores a value that
// was not UTF-8), in the webhook's order: action, interface, path, destination, at, username,
// type, test, then any other in name order. nullopt and `error` when the body is not a JSON
// object of strings with an action and a path.
std::optional<Fields> decode_fields(std::string_view body, std::string& error);

// The [[folder]] tables that want the operation: the path (or a move's or copy's destination)
// under the folder's path, its action in actions, include/exclude on the path relative to the
// folder, and the users, interfaces and types filters. In the file's order.
std::vector<const agent::FolderRule*> route_fields(const std::vector<agent::FolderRule>& rules,
                                                   const Fields& fields);

// The request the agent would send for these fields to `rule`'s URLs: its method (GET with the
// query string, POST with the JSON body or its body_template rendered with {{id}} = `id`),
// headers and secret, with `id` as webhook-id.
delivery::Request relay_request(const Fields& fields, const agent::FolderRule& rule,
                                const std::string& id);

// The value of a field, "" when absent.
std::string field(const Fields& fields, std::string_view name);

}  // namespace folderhook::relay
