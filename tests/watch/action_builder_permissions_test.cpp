// ActionBuilder with `permissions = true`: an IN_ATTRIB is a permission update only when mode,
// owner, group or ACL differ from what was last seen, and only in a folder that asks.
#include <doctest/doctest.h>

#include "tests/watch/builder_harness.h"

namespace folderhook::watch::testing {
namespace {

WatchOptions permission_options(bool permissions = true) {
  WatchOptions options = Harness::default_options();
  options.roots[0].permissions = permissions;
  return options;
}

}  // namespace

TEST_CASE("permissions: a chmod is one update with the mode, owner and group after it") {
  Harness h(permission_options());
  h.fs.write("/r/a", "x");
  h.start();
  h.fs.chmod("/r/a", 0600);
  h.record("/r", IN_ATTRIB, "a");
  REQUIRE(h.actions() == Lines{"update file /r/a"});
  const FileAction& update = h.taken().back();
  REQUIRE(update.permission.has_value());
  CHECK(update.permission->mode == 0600);
  CHECK(update.permission->owner == "alice");
  CHECK(update.permission->group == "users");
  // The same mode again, a touch: the kernel says ATTRIB, nothing changed.
  h.record("/r", IN_ATTRIB, "a");
  CHECK(h.actions().empty());
}

TEST_CASE("permissions: a chown and a directory's chmod are reported, each once") {
  Harness h(permission_options());
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/f", "x");
  h.start();
  h.fs.chown("/r/d/f", 1001, 5);
  h.record("/r/d", IN_ATTRIB, "f");
  h.fs.chmod("/r/d", 0700);
  h.record("/r", IN_ATTRIB | IN_ISDIR, "d");
  h.record("/r/d", IN_ATTRIB | IN_ISDIR);  // the directory's own watch: the same change
  REQUIRE(h.actions() == Lines{"update file /r/d/f", "update directory /r/d"});
  CHECK(h.taken()[0].permission->owner == "bob");
  CHECK(h.taken()[0].permission->group == "5");
  CHECK(h.taken()[1].permission->mode == 0700);
}

TEST_CASE("permissions: a new file chmodded before its close is only created") {
  Harness h(permission_options());
  h.start();
  h.fs.write("/r/n", "x");
  h.record("/r", IN_CREATE, "n");
  h.record("/r", IN_OPEN, "n");
  h.fs.chmod("/r/n", 0600);
  h.record("/r", IN_ATTRIB, "n");  // cp -p, install -m: before the close
  h.record("/r", IN_CLOSE_WRITE, "n");
  REQUIRE(h.actions() == Lines{"create file /r/n"});
  CHECK_FALSE(h.taken().back().permission.has_value());
  h.record("/r", IN_ATTRIB, "n");  // a touch after: as created
  CHECK(h.actions().empty());
  h.fs.chmod("/r/n", 0640);
  h.record("/r", IN_ATTRIB, "n");
  CHECK(h.actions() == Lines{"update file /r/n"});
}

TEST_CASE("permissions: a moved file keeps what was seen of it under its new name") {
  Harness h(permission_options());
  h.fs.write("/r/a", "x");
  h.start();
  h.fs.rename("/r/a", "/r/b");
  h.record("/r", IN_MOVED_FROM, "a", 7);
  h.record("/r", IN_MOVED_TO, "b", 7);
  CHECK(h.actions() == Lines{"move file /r/a -> /r/b"});
  h.record("/r", IN_ATTRIB, "b");
  CHECK(h.actions().empty());
  h.fs.chmod("/r/b", 0444);
  h.record("/r", IN_ATTRIB, "b");
  CHECK(h.actions() == Lines{"update file /r/b"});
}

TEST_CASE("permissions: a folder that does not ask reports no ATTRIB") {
  Harness h(permission_options(false));
  h.fs.write("/r/a", "x");
  h.start();
  h.fs.chmod("/r/a", 0600);
  h.record("/r", IN_ATTRIB, "a");
  CHECK(h.actions().empty());
}

}  // namespace folderhook::watch::testing
