#include "delivery/payload.h"

#include "delivery/signature.h"

namespace folderhook::delivery {
namespace {

// Valid UTF-8 (what nlohmann's strict dumper accepts); exceptions stay here.
bool is_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

nlohmann::json fields_json(const std::vector<std::pair<std::string, std::string>>& fields) {
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [name, text] : fields) {
    if (is_utf8(text)) {
      body[name] = text;
    } else {
      // Round-trip through the replacing dumper: invalid bytes become U+FFFD.
      body[name] = nlohmann::json::parse(
          nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      body[name + "_base64"] = base64_encode(text);
    }
  }
  return body;
}

}  // namespace folderhook::delivery
