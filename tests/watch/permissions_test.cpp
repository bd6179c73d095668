// watch/permissions.cpp: the octal mode, the folder a path's permissions are kept for, and the
// book that tells a change from a touch.
#include <doctest/doctest.h>

#include "watch/permissions.h"

namespace folderhook::watch {

TEST_CASE("a mode is four octal digits, with the setuid, setgid and sticky bits when set") {
  CHECK(format_mode(0640) == "0640");
  CHECK(format_mode(0) == "0000");
  CHECK(format_mode(04755) == "4755");
  CHECK(format_mode(01777) == "1777");
  CHECK(format_mode(0100644) == "0644");  // the file type bits are not permissions
}

TEST_CASE("the permission root of a path is the deepest folder that holds it, never itself") {
  const std::vector<std::string> roots = {"/srv/a", "/srv/a/b", "/srv/c"};
  CHECK(*permission_root_of(roots, "/srv/a/x") == "/srv/a");
  CHECK(*permission_root_of(roots, "/srv/a/b/y") == "/srv/a/b");
  CHECK(*permission_root_of(roots, "/srv/a/b") == "/srv/a");
  CHECK(permission_root_of(roots, "/srv/a") == nullptr);
  CHECK(permission_root_of(roots, "/srv/ab/x") == nullptr);
  CHECK(permission_root_of({}, "/srv/a/x") == nullptr);
}

TEST_CASE("the book reports a change only against what it recorded, once") {
  PermissionBook book;
  const Permissions before{0644, 1000, 100, 0};
  CHECK_FALSE(book.changed("/r/a", before));  // never seen: recorded, nothing to report
  CHECK_FALSE(book.changed("/r/a", before));  // a touch: the same values
  Permissions after = before;
  after.mode = 0600;
  CHECK(book.changed("/r/a", after));
  CHECK_FALSE(book.changed("/r/a", after));  // a second chmod to the same mode: no change
  after.acl = 42;
  CHECK(book.changed("/r/a", after));
  after.gid = 0;
  CHECK(book.changed("/r/a", after));
  after.uid = 0;
  CHECK(book.changed("/r/a", after));
}

TEST_CASE("the book moves and forgets whole trees, and nothing beside them") {
  PermissionBook book;
  const Permissions p{0755, 1, 2, 0};
  for (const char* path : {"/r/d", "/r/d/x", "/r/d/sub/y", "/r/d-x", "/r/dd", "/r/e"}) {
    book.record(path, p);
  }
  book.move_tree("/r/d", "/r/m");
  CHECK(book.find("/r/m"));
  CHECK(book.find("/r/m/x"));
  CHECK(book.find("/r/m/sub/y"));
  CHECK_FALSE(book.find("/r/d"));
  CHECK_FALSE(book.find("/r/d/x"));
  CHECK(book.find("/r/d-x"));  // sorts between "/r/d" and "/r/d/": not beneath it
  CHECK(book.find("/r/dd"));
  book.erase_tree("/r/m");
  CHECK(book.size() == 3);
  CHECK(book.find("/r/e"));
}

}  // namespace folderhook::watch
