#include "delivery/batch.h"

#include <nlohmann/json.hpp>

#include "delivery/payload.h"

namespace folderhook::delivery {

std::string batch_body(const std::vector<const Request*>& members) {
  nlohmann::json array = nlohmann::json::array();
  for (const Request* member : members) {
    nlohmann::json object;
    if (!member->fields.empty()) {
      object = fields_json(member->fields);
    } else {
      // A row written before the outbox kept fields (version 3): its own JSON body.
      object = nlohmann::json::parse(member->body, nullptr, /*allow_exceptions=*/false);
      if (!object.is_object()) object = nlohmann::json::object();
    }
    object["id"] = member->id;
    array.push_back(std::move(object));
  }
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Request batch_request(const std::string& id, const std::vector<const Request*>& members) {
  const Request& first = *members.front();
  Request r;
  r.id = id;
  r.method = "POST";
  r.urls = first.urls;
  r.body = batch_body(members);
  r.content_type = "application/json";
  r.headers = first.headers;
  r.secret = first.secret;
  r.settings = first.settings;
  r.action = first.action;
  r.path = first.path;
  r.rule = first.rule;
  r.created_ms = first.created_ms;
  r.catch_up = first.catch_up;
  return r;
}

}  // namespace folderhook::delivery
