#include "agent/replay.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "agent/body_template.h"
#include "agent/webhook.h"
#include "delivery/signature.h"
#include "delivery/url.h"

namespace folderhook::agent {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::optional<Fields> query_fields(const std::string& query) {
  Fields fields;
  size_t start = 0;
  while (start < query.size()) {
    const size_t end = std::min(query.find('&', start), query.size());
    const std::string part = query.substr(start, end - start);
    const size_t eq = part.find('=');
    if (eq == std::string::npos) return std::nullopt;
    auto value = delivery::percent_decode(std::string_view(part).substr(eq + 1));
    if (!value) return std::nullopt;
    fields.emplace_back(part.substr(0, eq), std::move(*value));
    start = end + 1;
  }
  return fields;
}

std::optional<Fields> json_fields(const std::string& body) {
  const nlohmann::json object = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return std::nullopt;
  auto value_of = [&object](const std::string& name) -> std::optional<std::string> {
    // "<field>_base64" holds the exact bytes of a value that is not UTF-8.
    const auto exact = object.find(name + "_base64");
    if (exact != object.end() && exact->is_string()) {
      return delivery::base64_decode(exact->get<std::string>());
    }
    const auto it = object.find(name);
    if (it == object.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  // The documented order first (action, interface, path, ...), then any other field.
  static const std::vector<std::string> kOrder = {"action", "interface", "path", "destination",
                                                  "at",     "username",  "type"};
  Fields fields;
  for (const std::string& name : kOrder) {
    if (!object.contains(name)) continue;
    auto value = value_of(name);
    if (!value) return std::nullopt;
    fields.emplace_back(name, std::move(*value));
  }
  for (const auto& [name, unused] : object.items()) {
    const bool is_exact_copy = name.size() > 7 && name.ends_with("_base64") &&
                               object.contains(name.substr(0, name.size() - 7));
    if (is_exact_copy || std::find(kOrder.begin(), kOrder.end(), name) != kOrder.end()) continue;
    auto value = value_of(name);
    if (!value) return std::nullopt;
    fields.emplace_back(name, std::move(*value));
  }
  return fields;
}

}  // namespace

const FolderRule* current_rule_of(const std::vector<FolderRule>& rules,
                                  const delivery::Request& stored) {
  // An expectation's alert (expect_alert.h) went to its alert_urls, not the folder's URLs.
  if (stored.action.starts_with("expect-")) return nullptr;
  const FolderRule* found = nullptr;
  int same_path = 0;
  for (const FolderRule& rule : rules) {
    if (rule.path != stored.rule) continue;
    ++same_path;
    if (rule.urls == stored.urls) return &rule;
    found = &rule;
  }
  return same_path == 1 ? found : nullptr;
}

ReplayedRequest with_current_rule(const delivery::Request& stored, const FolderRule* rule) {
  ReplayedRequest out{stored, ""};
  if (rule == nullptr) {
    out.kept_stored = stored.action.starts_with("expect-")
                          ? "an expectation's alert is sent as stored"
                          : "its folder " + stored.rule + " is not (or not unambiguously) in the rules";
    return out;
  }
  delivery::Request& r = out.request;
  const bool multipart = stored.content_type.starts_with("multipart/");
  if (r.fields.empty() && !multipart) {
    // A row from before the outbox kept the fields: read them back from the HTTP framing, for
    // current URLs that are not HTTP (NATS publishes the fields).
    auto fields = stored.method == "POST" ? json_fields(stored.body) : query_fields(stored.query);
    if (fields) r.fields = std::move(*fields);
  }
  // The body is built again when the rule's form of it differs from the stored one: another
  // method, a body_template now (rendered again: it may be the fix being replayed), or a
  // templated body whose folder has none now. The stored fields are the source.
  const bool template_now = !rule->body_template.empty();
  const bool was_templated = stored.method == "POST" && !multipart && !r.fields.empty() &&
                             stored.body != fields_json(r.fields).dump();
  if (rule->method != stored.method || template_now || was_templated) {
    if (multipart || r.fields.empty()) {
      out.kept_stored = multipart ? "its file content cannot be sent with " +
                                        (template_now ? "a body_template" : rule->method)
                                  : "its stored fields cannot be read";
      return out;
    }
    r.method = rule->method;
    if (template_now) {
      // The size is not stored: {{size}} is absent in a body rendered again.
      r.query.clear();
      r.body = render_template(rule->body_template, rule->content_type,
                               template_values(r.fields, r.id, std::nullopt));
      r.content_type = rule->content_type;
    } else if (rule->method == "POST") {
      r.query.clear();
      r.body = fields_json(r.fields).dump();
      r.content_type = "application/json";
    } else {
      r.query = fields_query(r.fields);
      r.body.clear();
      r.content_type.clear();
    }
  }
  r.urls = rule->urls;
  r.headers = rule->headers;
  r.secret = rule->secret;
  r.settings = rule->nats_settings;
  delivery::put_lane_policy(rule->pacing, r.settings);
  return out;
}

}  // namespace folderhook::agent
