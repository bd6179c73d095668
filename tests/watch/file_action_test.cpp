#include "watch/file_action.h"

#include <doctest/doctest.h>

namespace folderhook::watch {

TEST_CASE("every action has a webhook name that parses back to it") {
  const Action all[] = {Action::kCreate, Action::kRead, Action::kUpdate,
                        Action::kDestroy, Action::kMove, Action::kCopy};
  const char* names[] = {"create", "read", "update", "destroy", "move", "copy"};
  for (int i = 0; i < 6; ++i) {
    CHECK(to_string(all[i]) == names[i]);
    CHECK(parse_action(names[i]) == all[i]);
  }
  CHECK_FALSE(parse_action("Create").has_value());
  CHECK_FALSE(parse_action("").has_value());
}

TEST_CASE("object types are named file and directory") {
  CHECK(to_string(ObjectType::kFile) == "file");
  CHECK(to_string(ObjectType::kDirectory) == "directory");
}

}  // namespace folderhook::watch
