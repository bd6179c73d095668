#include "delivery/batch.h"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>
#include <random>

#include "delivery/payload.h"

namespace folderhook::delivery {

std::string new_message_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // RAND_bytes fails only without entropy; fall back to the standard library's source.
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "msg_";
  for (const auto b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

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
