#include "agent/webhook.h"

#include <cstdio>
#include <ctime>

#include "agent/body_template.h"
#include "agent/log.h"
#include "delivery/payload.h"
#include "delivery/signature.h"
#include "delivery/url.h"

namespace folderhook::agent {
namespace {

bool has_destination(watch::Action action) {
  return action == watch::Action::kMove || action == watch::Action::kCopy;
}

// The seven fields in their documented order; destination only where it applies; mode, owner
// and group last, for a permission change only.
template <typename Add>
void for_each_field(const watch::FileAction& action, const FolderRule& rule,
                    std::string_view root, Add&& add) {
  add("action", watch::to_string(action.action));
  add("interface", reported_interface(action, rule));
  add("path", reported_path(action.path, root));
  if (has_destination(action.action)) add("destination", reported_path(action.destination, root));
  add("at", format_at(action.at));
  add("username", reported_username(action, rule));
  if (!action.permission) {
    add("type", watch::to_string(action.type));
    return;
  }
  // A permission change: its values after the change, after the usual fields.
  add("type", "permission");
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", action.permission->mode & 07777u);
  add("mode", mode);
  add("owner", action.permission->owner);
  add("group", action.permission->group);
}

}  // namespace

std::string_view reported_interface(const watch::FileAction& action, const FolderRule& rule) {
  return action.actor_interface.empty() ? rule.interface : action.actor_interface;
}

std::string_view reported_username(const watch::FileAction& action, const FolderRule& rule) {
  return !rule.username.empty()          ? rule.username
         : !action.actor_username.empty() ? action.actor_username
                                          : action.username;
}

std::string format_at(std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(
      std::chrono::floor<std::chrono::seconds>(at));
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+00:00", &utc);
  return text;
}

std::string reported_path(std::string_view path, std::string_view root) {
  if (root.empty() || root == "/") return std::string(path);
  if (path.size() < root.size() || path.substr(0, root.size()) != root) return std::string(path);
  std::string_view rest = path.substr(root.size());
  if (rest.empty()) return "/";
  if (rest.front() != '/') return std::string(path);  // "/srv/filesX" is not under "/srv/files"
  return std::string(rest);
}

std::string fields_query(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string query;
  for (const auto& [name, value] : fields) {
    if (!query.empty()) query += '&';
    query += name;
    query += '=';
    query += delivery::percent_encode(value);
  }
  return query;
}

nlohmann::json fields_json(const std::vector<std::pair<std::string, std::string>>& fields) {
  return delivery::fields_json(fields);
}

std::string webhook_query(const watch::FileAction& action, const FolderRule& rule,
                          std::string_view root) {
  return fields_query(webhook_fields(action, rule, root));
}

nlohmann::json webhook_json(const watch::FileAction& action, const FolderRule& rule,
                            std::string_view root) {
  return fields_json(webhook_fields(action, rule, root));
}

std::vector<std::pair<std::string, std::string>> webhook_fields(const watch::FileAction& action,
                                                                const FolderRule& rule,
                                                                std::string_view root) {
  std::vector<std::pair<std::string, std::string>> fields;
  for_each_field(action, rule, root, [&fields](std::string_view name, std::string_view value) {
    fields.emplace_back(std::string(name), std::string(value));
  });
  return fields;
}

std::optional<uint64_t> reported_size(const watch::FileAction& action) {
  // As the folder's min_size sees it, when the agent could stat the file (a real object has an
  // inode). A destroy has none left, a directory none that means anything.
  if (action.type != watch::ObjectType::kFile || action.action == watch::Action::kDestroy ||
      action.meta.ino == 0) {
    return std::nullopt;
  }
  return action.meta.size;
}

std::vector<std::pair<std::string, std::string>> template_values(
    std::vector<std::pair<std::string, std::string>> fields, std::string_view id,
    std::optional<uint64_t> size) {
  auto values = std::move(fields);
  values.emplace_back("id", std::string(id));
  if (size) values.emplace_back("size", std::to_string(*size));
  for (const char* name : {"path", "destination"}) {
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].first == name) {
        values.emplace_back(std::string(name) + "_base64", delivery::base64_encode(values[i].second));
        break;
      }
    }
  }
  return values;
}

void deliver_as_rule(const FolderRule& rule, delivery::Request& request) {
  request.method = rule.method;
  request.urls = rule.urls;
  if (!rule.body_template.empty()) {
    // rendered by the caller
  } else if (rule.method == "POST") {
    request.body = fields_json(request.fields).dump();
    request.content_type = "application/json";
  } else {
    request.query = fields_query(request.fields);
  }
  request.headers = rule.headers;
  request.secret = rule.secret;
  request.settings = rule.nats_settings;
  delivery::put_lane_policy(rule.pacing, request.settings);
}

delivery::Request make_request(const watch::FileAction& action, const FolderRule& rule,
                               std::string_view root) {
  delivery::Request request;
  request.fields = webhook_fields(action, rule, root);
  if (!rule.body_template.empty()) {
    // The id is chosen here rather than by the outbox, so that {{id}} is in the body that is
    // stored, signed and sent on every retry (the outbox keeps an id it is given).
    request.id = delivery::new_request_id();
    request.body = render_template(rule.body_template, rule.content_type,
                                   template_values(request.fields, request.id, reported_size(action)));
    request.content_type = rule.content_type;
  }
  deliver_as_rule(rule, request);
  request.action = std::string(watch::to_string(action.action));
  request.path = action.path;
  request.rule = rule.path;
  request.catch_up = action.catch_up;
  request.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           action.at.time_since_epoch()).count();
  return request;
}

}  // namespace folderhook::agent
