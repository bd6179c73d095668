#include "relay/message.h"

#include <algorithm>
#include <iterator>

#include <nlohmann/json.hpp>

#include "agent/body_template.h"
#include "agent/router.h"
#include "agent/webhook.h"
#include "delivery/signature.h"
#include "watch/file_action.h"

namespace folderhook::relay {
namespace {

constexpr std::string_view kWebhookOrder[] = {"action",   "interface", "path", "destination",
                                              "at",       "username",  "type", "test"};

size_t rank(const std::string& name) {
  const auto it = std::find(std::begin(kWebhookOrder), std::end(kWebhookOrder), name);
  return static_cast<size_t>(std::distance(std::begin(kWebhookOrder), it));
}

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string field(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return v;
  }
  return "";
}

std::optional<Fields> decode_fields(std::string_view body, std::string& error) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    error = "the message is not a JSON object of an operation's fields";
    return std::nullopt;
  }
  Fields fields;
  for (const auto& [name, value] : json.items()) {
    if (ends_with(name, "_base64")) continue;
    if (!value.is_string()) {
      error = "the message's field '" + name + "' is not a string";
      return std::nullopt;
    }
    std::string bytes = value.get<std::string>();
    const auto exact = json.find(name + "_base64");
    if (exact != json.end()) {
      if (!exact->is_string()) {
        error = "the message's field '" + name + "_base64' is not a string";
        return std::nullopt;
      }
      auto decoded = delivery::base64_decode(exact->get<std::string>());
      if (!decoded) {
        error = "the message's field '" + name + "_base64' is not base64";
        return std::nullopt;
      }
      bytes = std::move(*decoded);
    }
    fields.emplace_back(name, std::move(bytes));
  }
  // nlohmann's object is in name order: put the webhook's fields back in the agent's order.
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  const std::string action = field(fields, "action");
  if (!watch::parse_action(action)) {
    error = "the message's action '" + action + "' is not one of create, read, update, destroy, "
            "move, copy";
    return std::nullopt;
  }
  if (field(fields, "path").empty()) {
    error = "the message has no path";
    return std::nullopt;
  }
  return fields;
}

std::vector<const agent::FolderRule*> route_fields(const std::vector<agent::FolderRule>& rules,
                                                   const Fields& fields) {
  watch::FileAction action;
  action.action = watch::parse_action(field(fields, "action")).value_or(watch::Action::kCreate);
  action.path = field(fields, "path");
  action.destination = field(fields, "destination");
  // The message says who and through what: the filters look at them as reported.
  action.actor_username = field(fields, "username");
  action.actor_interface = field(fields, "interface");
  action.username = action.actor_username;
  action.type = field(fields, "type") == "directory" ? watch::ObjectType::kDirectory
                                                     : watch::ObjectType::kFile;
  return agent::route(rules, action);
}

delivery::Request relay_request(const Fields& fields, const agent::FolderRule& rule,
                                const std::string& id) {
  delivery::Request request;
  request.id = id;
  request.method = rule.method;
  request.urls = rule.urls;
  request.fields = fields;
  if (!rule.body_template.empty()) {
    // As the agent renders it (agent/webhook.cpp), from the message's fields; {{id}} is the
    // webhook-id sent, which is the message's on every redelivery, so the body (and the
    // signature over it) is the same on every attempt. A message has no size: {{size}} is "".
    request.body = agent::render_template(rule.body_template, rule.content_type,
                                          agent::template_values(fields, id, std::nullopt));
    request.content_type = rule.content_type;
  } else if (rule.method == "POST") {
    request.body = agent::fields_json(fields).dump();
    request.content_type = "application/json";
  } else {
    request.query = agent::fields_query(fields);
  }
  request.headers = rule.headers;
  request.secret = rule.secret;
  request.action = field(fields, "action");
  request.path = field(fields, "path");
  request.rule = rule.path;
  return request;
}

}  // namespace folderhook::relay
