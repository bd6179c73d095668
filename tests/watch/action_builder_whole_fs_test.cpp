// ActionBuilder in whole-filesystem scope (the fanotify backend): records by path with their
// actor, a background index, roots seen coming and going in their parent.
#include <doctest/doctest.h>

#include "tests/watch/builder_fixture.h"

namespace folderhook::watch::testing {
namespace {

const Actor kBob{42, "bob", "sftp"};
const Actor kCarol{43, "carol", ""};

Harness whole_fs() {
  return Harness(Harness::default_options(), ActionBuilder::Scope::kWholeFilesystem);
}

// A started builder over /r/a ("content"); `reader` reads /r/a, and 50 ms later Bob writes
// /r/b with the same content.
void read_a_then_bob_writes_b(Harness& h, const Actor& reader) {
  h.fs.write("/r/a", "content");
  h.start();
  h.advance(0);
  h.path_record("/r", IN_OPEN | IN_CLOSE_NOWRITE, "a", reader);
  h.advance(50);
  h.fs.write("/r/b", "content");
  h.path_record("/r", IN_CREATE | IN_OPEN | IN_CLOSE_WRITE, "b", kBob);
}

}  // namespace

TEST_CASE("whole filesystem: start reports nothing and indexes in the background, in batches") {
  Harness h = whole_fs();
  for (int i = 0; i < 300; ++i) h.fs.mkdir("/r/d" + std::to_string(i));
  h.start();
  CHECK(h.builder().stats().indexing);
  CHECK(h.fs.add_watch_calls == 0);  // ready before anything is listed
  REQUIRE(h.builder().next_deadline().has_value());
  h.advance(0);
  CHECK(h.builder().stats().indexing);  // 256 directories per tick
  h.advance(0);
  CHECK_FALSE(h.builder().stats().indexing);
  CHECK(h.builder().stats().watches == 301);
  CHECK(h.actions().empty());
}

TEST_CASE("whole filesystem: actions carry the actor of the event that made them") {
  Harness h = whole_fs();
  h.fs.write("/r/a", "x", 1000);
  h.start();
  h.advance(0);
  h.fs.remove_tree("/r/a");
  h.path_record("/r", IN_DELETE, "a", kBob);
  REQUIRE(h.actions() == Lines{"destroy file /r/a"});
  CHECK(h.taken()[0].username == "alice");  // the owner last seen
  CHECK(h.taken()[0].actor_username == "bob");
  CHECK(h.taken()[0].actor_interface == "sftp");
  h.fs.write("/r/b", "y", 1001);
  h.path_record("/r", IN_CREATE | IN_OPEN, "b", kCarol);
  h.path_record("/r", IN_CLOSE_WRITE, "b", kCarol);
  h.advance(200);
  REQUIRE(h.actions() == Lines{"create file /r/b"});
  CHECK(h.taken()[1].actor_username == "carol");
  CHECK(h.taken()[1].actor_interface.empty());
}

TEST_CASE("whole filesystem: a CLOSE_WRITE without a CREATE is an update, before the index too") {
  Harness h = whole_fs();
  h.fs.mkdir("/r/deep");
  h.fs.write("/r/deep/e", "old");
  h.start();  // the index has not run
  h.fs.write("/r/deep/e", "new");
  h.path_record("/r/deep", IN_OPEN | IN_CLOSE_WRITE, "e", kBob);
  h.advance(200);
  CHECK(h.actions() == Lines{"update file /r/deep/e"});
}

TEST_CASE("whole filesystem: after the index, a CLOSE_WRITE of a file it never saw is a create") {
  Harness h = whole_fs();
  h.start();
  h.advance(0);  // the index is built: every file that existed is known
  REQUIRE_FALSE(h.builder().stats().indexing);
  h.fs.write("/r/lost", "x");  // its CREATE was lost (a queue overflow): only the close arrives
  h.path_record("/r", IN_CLOSE_WRITE, "lost", kBob);
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/lost"});
}

TEST_CASE("whole filesystem: a file the index listed after it was created is still a create") {
  Harness h = whole_fs();
  h.start();
  h.fs.write("/r/n", "x");  // created after the mark, listed by the index before its CREATE
  h.advance(0);
  h.path_record("/r", IN_CREATE | IN_OPEN | IN_CLOSE_WRITE, "n", kBob);
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/n"});
}

TEST_CASE("whole filesystem: a delete of something never indexed is still a destroy, by its actor") {
  Harness h = whole_fs();
  h.start();
  h.path_record("/r/x", IN_DELETE, "gone", kBob);
  h.path_record("/r", IN_DELETE | IN_ISDIR, "x", kBob);
  REQUIRE(h.actions() == Lines{"destroy file /r/x/gone", "destroy directory /r/x"});
  CHECK(h.taken()[0].username == "bob");  // no owner was ever seen
}

TEST_CASE("whole filesystem: a temp upload deleted before its rename is never reported") {
  Harness h = whole_fs();
  h.start();
  h.advance(0);
  h.fs.write("/r/up.part", "x");
  h.path_record("/r", IN_CREATE | IN_OPEN | IN_CLOSE_WRITE, "up.part", kBob);
  h.fs.remove_tree("/r/up.part");
  h.path_record("/r", IN_DELETE, "up.part", kBob);
  CHECK(quiet_after(h, 500));
}

TEST_CASE("whole filesystem: new directories are not listed: their events are all seen") {
  Harness h = whole_fs();
  h.start();
  h.advance(0);
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/f", "x");
  h.path_record("/r", IN_CREATE | IN_ISDIR, "d", kBob);
  CHECK(h.actions() == Lines{"create directory /r/d"});
  h.advance(500);
  CHECK(h.actions().empty());  // f comes by its own CREATE
  h.path_record("/r/d", IN_CREATE | IN_OPEN | IN_CLOSE_WRITE, "f", kBob);
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/d/f"});
}

TEST_CASE("whole filesystem: a root deleted and created again is seen in its parent") {
  Harness h = whole_fs();
  h.fs.write("/r/a", "x");
  h.start();
  h.advance(0);
  h.fs.remove_tree("/r");
  h.path_record("/r", IN_DELETE, "a", kBob);
  h.path_record("/", IN_DELETE | IN_ISDIR, "r", kBob);
  CHECK(h.actions() == Lines{"destroy file /r/a", "destroy directory /r"});
  h.path_record("/r", IN_CREATE, "early", kBob);  // inside a missing root: dropped
  h.fs.mkdir("/r");
  h.path_record("/", IN_CREATE | IN_ISDIR, "r", kBob);
  CHECK(h.actions() == Lines{"create directory /r"});
  h.path_record("/", IN_CREATE, "other", kBob);  // beside the root: not ours
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("whole filesystem: a copy is the file its writer read, even closed before the create") {
  Harness h = whole_fs();
  read_a_then_bob_writes_b(h, kBob);
  h.advance(200);
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/b"});
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
}

TEST_CASE("whole filesystem: equal content read by another process is not a copy") {
  Harness h = whole_fs();
  read_a_then_bob_writes_b(h, kCarol);
  CHECK(h.actions() == Lines{"create file /r/b"});  // at its close
  h.advance(149);
  CHECK(h.actions().empty());  // the read is held for the settle window, in case of a copy
  h.advance(1);
  CHECK(h.actions() == Lines{"read file /r/a"});
}

TEST_CASE("whole filesystem: an overflow is counted, named for fanotify, and hooked") {
  WatchOptions options = Harness::default_options();
  int hooked = 0;
  options.on_overflow = [&] { ++hooked; };
  Harness h(options, ActionBuilder::Scope::kWholeFilesystem);
  h.start();
  Record overflow;  // what the fanotify backend makes of FAN_Q_OVERFLOW
  overflow.kinds = {RecordKind::kOverflow};
  h.builder().feed(overflow, h.now());
  CHECK(h.builder().stats().overflows == 1);
  CHECK(hooked == 1);
  REQUIRE_FALSE(h.logs.empty());
  CHECK(h.logs.back().message.find("fs.fanotify.max_queued_events") != std::string::npos);
}

}  // namespace folderhook::watch::testing
