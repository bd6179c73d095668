// The index rows between watch/ and delivery/: the permissions an entry carries (known or not)
// cross both ways unchanged, and a permission update records them at its path.
#include "agent/index_sync.h"

#include <doctest/doctest.h>

namespace folderhook::agent {
namespace index_sync_test {

TEST_CASE("index rows: permissions known or not cross to the store and back unchanged") {
  watch::IndexEntry known{watch::ObjectType::kFile, {}};
  known.meta.ino = 7;
  watch::set_permissions(known.meta, watch::Permissions{0640, 65534, 4242, 0xF00DFACE12345678ull});
  watch::IndexEntry unknown{watch::ObjectType::kDirectory, {}};
  unknown.meta.ino = 8;
  const delivery::IndexRow row = to_row("/r/f", known);
  CHECK(row.permissions);
  CHECK(row.mode == 0640);
  CHECK(row.gid == 4242);
  CHECK(row.acl == 0xF00DFACE12345678ull);
  CHECK_FALSE(to_row("/r/d", unknown).permissions);
  const watch::Index back = to_watch_index({row, to_row("/r/d", unknown)});
  CHECK(back.at("/r/f") == known);
  CHECK(back.at("/r/d") == unknown);
}

TEST_CASE("index rows: a permission update puts its path with the values after it") {
  watch::FileAction action;
  action.action = watch::Action::kUpdate;
  action.path = "/r/f";
  action.meta.ino = 7;
  watch::set_permissions(action.meta, watch::Permissions{0600, 0, 0, 0});
  action.permission = watch::PermissionChange{0600, "root", "root"};
  std::vector<delivery::IndexChange> changes;
  append_index_changes(action, changes);
  REQUIRE_FALSE(changes.empty());
  CHECK(changes.back().kind == delivery::IndexChange::Kind::kPut);
  CHECK(changes.back().row.path == "/r/f");
  CHECK(changes.back().row.permissions);
  CHECK(changes.back().row.mode == 0600);
}

}  // namespace index_sync_test
}  // namespace folderhook::agent
