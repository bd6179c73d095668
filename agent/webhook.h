// The webhook as DESIGN.md defines it: from a FileAction and the folder rule that wants it, the
// Request that delivery/ stores and sends. Pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "delivery/request.h"
#include "watch/file_action.h"

namespace folderhook::agent {

// "YYYY-MM-DDTHH:MM:SS+00:00" in UTC.
std::string format_at(std::chrono::system_clock::time_point at);

// A path as reported: unchanged without a root; else relative to root with a leading "/"
// ("/srv/files" + "/srv/files/in/a" -> "/in/a"; the root itself -> "/").
std::string reported_path(std::string_view path, std::string_view root);

// The interface and username as reported: the process's that did it (fanotify) before the
// folder's interface and the file's owner; a folder's fixed username wins over both.
std::string_view reported_interface(const watch::FileAction& action, const FolderRule& rule);
std::string_view reported_username(const watch::FileAction& action, const FolderRule& rule);

// The query string without '?': action, interface, path, destination (move and copy only), at,
// username, type ("permission" for a permission change, then mode, owner and group); every value
// percent-encoded from its exact bytes.
std::string webhook_query(const watch::FileAction& action, const FolderRule& rule,
                          std::string_view root = "");

// The POST body: a JSON object with the same fields (destination only for move and copy).
// JSON cannot hold bytes that are not UTF-8: such a value is sent with U+FFFD in their place,
// and its exact bytes as base64 in "<field>_base64".
nlohmann::json webhook_json(const watch::FileAction& action, const FolderRule& rule,
                            std::string_view root = "");

// The same fields as (name, exact bytes) pairs, in order: the parts of a multipart POST.
std::vector<std::pair<std::string, std::string>> webhook_fields(const watch::FileAction& action,
                                                                const FolderRule& rule,
                                                                std::string_view root = "");

// The query string and the JSON body of given fields, as webhook_query and webhook_json make them.
// The rule's way of delivering, on a request whose fields are set: method, URLs, headers,
// secret, NATS settings and pacing, and the fields as a JSON body (POST) or a query string (GET)
// unless the rule has a body_template (the caller renders it).
void deliver_as_rule(const FolderRule& rule, delivery::Request& request);
std::string fields_query(const std::vector<std::pair<std::string, std::string>>& fields);
nlohmann::json fields_json(const std::vector<std::pair<std::string, std::string>>& fields);

// A file's size in bytes after the operation (a read's as read), as min_size sees it; nullopt
// for a destroy, a directory, or a file gone before the agent could stat it.
std::optional<uint64_t> reported_size(const watch::FileAction& action);

// The variables of a folder's body_template (body_template.h): `fields` (webhook_fields), then
// id, size when known, path_base64 and destination_base64 (the exact bytes, base64).
std::vector<std::pair<std::string, std::string>> template_values(
    std::vector<std::pair<std::string, std::string>> fields, std::string_view id,
    std::optional<uint64_t> size);

// The Request for `action` under `rule`. With a body_template its id is chosen here and
// rendered into the body; otherwise the outbox chooses it when it commits the request.
delivery::Request make_request(const watch::FileAction& action, const FolderRule& rule,
                               std::string_view root = "");

}  // namespace folderhook::agent
