// ActionBuilder's timing: a file is named at its writer's close unless something says it may
// still change; links, held reads and settling writes come due in deadline order.
#include <doctest/doctest.h>

#include "tests/watch/builder_fixture.h"

namespace folderhook::watch::testing {

TEST_CASE("a new file written again after its close is a create then an update") {
  Harness h;
  h.start();
  new_file_written(h, "/r", "a", "1");
  h.fs.write("/r/a", "12");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_WRITE, "a");
  CHECK(h.actions() == Lines{"create file /r/a", "update file /r/a"});
}

TEST_CASE("a file closed while another descriptor is open on it waits for the settle window") {
  // A reader (or a second writer) still holds it: more writes may follow inside the window.
  Harness h;
  start_with(h, {{"/r/e", "old"}});
  h.record("/r", IN_OPEN, "e");  // the other descriptor
  h.fs.write("/r/e", "new");
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions().empty());
  CHECK(quiet_after(h, 199));
  h.advance(1);
  CHECK(h.actions() == Lines{"update file /r/e"});
}

TEST_CASE("two writers on one file are one operation, named when the last one closes") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "12");
  records(h, "/r", {{IN_CREATE, "a"}, {IN_OPEN, "a"}, {IN_OPEN, "a"}, {IN_CLOSE_WRITE, "a"}});
  CHECK(quiet_after(h, 150));
  h.record("/r", IN_CLOSE_WRITE, "a");
  CHECK(h.actions() == Lines{"create file /r/a"});
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("a file deleted before its close was read is still a create then a destroy") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "a", "x");
  h.fs.remove_tree("/r/a");  // echo x > a && rm a: both happened before the read()
  h.record("/r", IN_CLOSE_WRITE, "a");
  h.record("/r", IN_DELETE, "a");
  CHECK(h.actions() == Lines{"create file /r/a", "destroy file /r/a"});
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("links created a millisecond apart are each named at the end of their own window") {
  Harness h;
  start_with(h, {{"/r/a", "x"}});
  for (int i = 0; i < 50; ++i) {
    const std::string name = "l" + std::to_string(100 + i);
    h.fs.write("/r/" + name, "x");
    h.record("/r", IN_CREATE, name);
    h.advance(1);
  }
  CHECK(h.actions().empty());
  h.advance(149);  // 199 ms after the first link
  CHECK(h.actions().empty());
  for (int i = 0; i < 50; ++i) {
    h.advance(1);
    CHECK(h.actions() == Lines{"create file /r/l" + std::to_string(100 + i)});
  }
  CHECK_FALSE(h.builder().next_deadline().has_value());
}

TEST_CASE("a link and a read inside a renamed directory are named under the new path") {
  Harness h;
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/a", "x");
  h.start();
  h.fs.write("/r/d/h", "x");
  records(h, "/r/d", {{IN_CREATE, "h"}, {IN_OPEN, "a"}, {IN_CLOSE_NOWRITE, "a"}});
  h.advance(100);
  h.fs.rename("/r/d", "/r/e");
  h.record("/r", IN_MOVED_FROM | IN_ISDIR, "d", 5);
  h.record("/r", IN_MOVED_TO | IN_ISDIR, "e", 5);
  CHECK(h.actions() == Lines{"move directory /r/d -> /r/e"});
  CHECK(quiet_after(h, 99));
  h.advance(1);
  CHECK(h.actions() == Lines{"create file /r/e/h", "read file /r/e/a"});
}

TEST_CASE("a read held for a possible copy is looked at again when that write settles") {
  Harness h;
  start_with(h, {{"/r/a", "aaaa"}});
  new_file_opened(h, "/r", "b", "bbbbbb");
  h.record("/r", IN_OPEN, "b");  // a second descriptor: b settles after its close
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.advance(100);
  h.record("/r", IN_CLOSE_WRITE, "b");
  h.advance(100);  // a's window ends while b, written during the read, still settles
  CHECK(h.actions().empty());
  // The loop sleeps until b's window ends rather than looking again at once.
  REQUIRE(h.builder().next_deadline().has_value());
  CHECK(*h.builder().next_deadline() == h.now().mono + std::chrono::milliseconds(100));
  h.advance(100);
  CHECK(h.actions() == Lines{"create file /r/b", "read file /r/a"});
}

}  // namespace folderhook::watch::testing
