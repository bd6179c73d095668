#include "watch/file_action.h"

#include <array>

namespace folderhook::watch {
namespace {

constexpr std::array<std::string_view, 6> kActionNames = {"create", "read",    "update",
                                                          "destroy", "move", "copy"};

}  // namespace

std::string_view to_string(Action action) {
  const auto index = static_cast<std::size_t>(action);
  return index < kActionNames.size() ? kActionNames[index] : std::string_view("unknown");
}

std::optional<Action> parse_action(std::string_view name) {
  for (std::size_t i = 0; i < kActionNames.size(); ++i) {
    if (kActionNames[i] == name) return static_cast<Action>(i);
  }
  return std::nullopt;
}

std::string_view to_string(ObjectType type) {
  return type == ObjectType::kDirectory ? "directory" : "file";
}

}  // namespace folderhook::watch
