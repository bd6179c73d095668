// ActionBuilder on single files: create, update, read, destroy, move, copy, temp uploads.
#include <doctest/doctest.h>

#include "tests/watch/builder_fixture.h"

namespace folderhook::watch::testing {

TEST_CASE("a new file is created when its writer closes it, never while it is written") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "a", "x");
  CHECK(quiet_after(h, 5000));
  // Named at the close itself: the clock does not move.
  h.record("/r", IN_CLOSE_WRITE, "a");
  CHECK(h.actions() == Lines{"create file /r/a"});
  CHECK(h.taken()[0].username == "alice");
  CHECK(h.taken()[0].at == h.now().wall);
  CHECK_FALSE(h.builder().next_deadline().has_value());
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("a new file written and closed is named with one stat, the one its close needs") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "a", "x");
  const std::size_t before = h.fs.stat_calls;
  h.record("/r", IN_CLOSE_WRITE, "a");
  REQUIRE(h.actions() == Lines{"create file /r/a"});
  CHECK(h.fs.stat_calls - before == 1);
  // The size and owner come from that stat: the index and min_size/max_size see them.
  CHECK(h.taken()[0].meta.size == 1);
  CHECK(h.taken()[0].username == "alice");
}

TEST_CASE("an existing file written, closed and written again is an update at each close") {
  Harness h;
  start_with(h, {{"/r/e", "old"}});
  h.fs.write("/r/e", "new");
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions() == Lines{"update file /r/e"});
  h.advance(50);
  h.fs.write("/r/e", "newer");
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions() == Lines{"update file /r/e"});
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("touch on an existing file is an update") {
  Harness h;
  start_with(h, {{"/r/e", "x"}});
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions() == Lines{"update file /r/e"});
}

TEST_CASE("a regular file opened and closed without writing is a read, a listed directory is not") {
  Harness h;
  h.fs.write("/r/a", "x");
  h.fs.mkdir("/r/d");
  h.start();
  records(h, "/r", {{IN_OPEN, "a"}, {IN_CLOSE_NOWRITE, "a"}, {IN_OPEN | IN_ISDIR, "d"},
                    {IN_CLOSE_NOWRITE | IN_ISDIR, "d"}});
  h.record("/r/d", IN_OPEN | IN_ISDIR);
  h.record("/r/d", IN_CLOSE_NOWRITE | IN_ISDIR);
  h.advance(200);
  CHECK(h.actions() == Lines{"read file /r/a"});
}

TEST_CASE("a deleted file is destroyed, named with the owner last seen") {
  Harness h;
  h.fs.write("/r/a", "x", 1001);
  h.start();
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_DELETE, "a");
  CHECK(h.actions() == Lines{"destroy file /r/a"});
  CHECK(h.taken()[0].username == "bob");
}

TEST_CASE("a user without a name is reported by uid digits") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "x", 4242);
  records(h, "/r", {{IN_CREATE, "a"}, {IN_OPEN, "a"}, {IN_CLOSE_WRITE, "a"}});
  h.advance(200);
  REQUIRE(h.actions() == Lines{"create file /r/a"});
  CHECK(h.taken()[0].username == "4242");
}

TEST_CASE("a rename is a move with its destination") {
  Harness h;
  h.fs.write("/r/a", "x");
  h.fs.mkdir("/r/d");
  h.start();
  h.fs.rename("/r/a", "/r/d/b");
  h.record("/r", IN_MOVED_FROM, "a", 7);
  h.record("/r/d", IN_MOVED_TO, "b", 7);
  CHECK(h.actions() == Lines{"move file /r/a -> /r/d/b"});
  // Later operations name the new path.
  h.fs.remove_tree("/r/d/b");
  h.record("/r/d", IN_DELETE, "b");
  CHECK(h.actions() == Lines{"destroy file /r/d/b"});
}

TEST_CASE("MOVED_FROM as the last record of a read pairs with the MOVED_TO of the next read") {
  Harness h;
  start_with(h, {{"/r/a", "x"}});
  h.fs.rename("/r/a", "/r/b");
  h.record("/r", IN_MOVED_FROM, "a", 9);
  CHECK(h.actions().empty());  // held until the pair arrives
  h.advance(100);
  h.record("/r", IN_MOVED_TO, "b", 9);
  CHECK(h.actions() == Lines{"move file /r/a -> /r/b"});
}

TEST_CASE("a file moved out of every watched folder is destroyed after the pairing window") {
  Harness h;
  start_with(h, {{"/r/a", "x"}});
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_MOVED_FROM, "a", 5);
  CHECK(quiet_after(h, 249));
  h.advance(1);
  CHECK(h.actions() == Lines{"destroy file /r/a"});
}

TEST_CASE("two adjacent unrelated moves with different cookies keep their order") {
  // mv w/new.txt out/ ; mv out/new.txt w/back.txt
  Harness h;
  start_with(h, {{"/r/new.txt", "x"}});
  h.fs.rename("/r/new.txt", "/r/back.txt");
  h.record("/r", IN_MOVED_FROM, "new.txt", 1);
  h.record("/r", IN_MOVED_TO, "back.txt", 2);
  CHECK(h.actions().empty());
  h.advance(250);
  CHECK(h.actions() == Lines{"destroy file /r/new.txt", "create file /r/back.txt"});
}

TEST_CASE("a file moved in from outside is created at once, over an existing name it updates") {
  Harness h;
  start_with(h, {{"/r/old", "1"}});
  h.fs.write("/r/in", "x");
  h.record("/r", IN_MOVED_TO, "in", 3);
  h.fs.write("/r/old", "2");
  h.record("/r", IN_MOVED_TO, "old", 4);
  CHECK(h.actions() == Lines{"create file /r/in", "update file /r/old"});
}

TEST_CASE("a file created and deleted soon after is a create then a destroy") {
  Harness h;
  h.start();
  new_file_written(h, "/r", "a", "x");
  h.advance(50);
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_DELETE, "a");
  CHECK(h.actions() == Lines{"create file /r/a", "destroy file /r/a"});
  CHECK(quiet_after(h, 500));
}

TEST_CASE("a file deleted while its writer still holds it was never complete: nothing") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "a", "x");
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_DELETE, "a");
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("hard links, symlinks and special files are created after a short settle") {
  Harness h;
  start_with(h, {{"/r/a", "x"}});
  h.fs.write("/r/h", "x");
  h.record("/r", IN_CREATE, "h");
  h.fs.symlink("/r/s");
  h.record("/r", IN_CREATE, "s");
  CHECK(quiet_after(h, 199));
  h.advance(1);
  CHECK(h.actions() == Lines{"create file /r/h", "create file /r/s"});
}

TEST_CASE("an upload through rsync's temp name is one create for the final name") {
  Harness h;
  h.start();
  h.fs.write("/r/.up.bin.x9PN0B", "data");
  records(h, "/r", {{IN_CREATE, ".up.bin.x9PN0B"}, {IN_OPEN, ".up.bin.x9PN0B"},
                    {IN_CLOSE_WRITE, ".up.bin.x9PN0B"}, {IN_OPEN, ".up.bin.x9PN0B"},
                    {IN_CLOSE_NOWRITE, ".up.bin.x9PN0B"}});
  CHECK(quiet_after(h, 1000));
  h.fs.rename("/r/.up.bin.x9PN0B", "/r/up.bin");
  h.record("/r", IN_MOVED_FROM, ".up.bin.x9PN0B", 11);
  h.record("/r", IN_MOVED_TO, "up.bin", 11);
  CHECK(h.actions() == Lines{"create file /r/up.bin"});  // at the rename
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("an upload through a temp name over an existing file is an update") {
  Harness h;
  start_with(h, {{"/r/f", "old"}});
  new_file_written(h, "/r", "f.part", "new");
  h.fs.rename("/r/f.part", "/r/f");
  h.record("/r", IN_MOVED_FROM, "f.part", 12);
  h.record("/r", IN_MOVED_TO, "f", 12);
  CHECK(h.actions() == Lines{"update file /r/f"});
}

TEST_CASE("a temp file deleted or moved out is never reported") {
  Harness h;
  h.start();
  new_file_written(h, "/r", "a.filepart", "x");
  h.fs.write("/r/b.tmp", "x");
  h.record("/r", IN_CREATE, "b.tmp");
  h.advance(300);
  h.fs.remove_tree("/r/a.filepart");
  h.record("/r", IN_DELETE, "a.filepart");
  h.record("/r", IN_MOVED_FROM, "b.tmp", 4);
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("cp a b inside a watched folder is a copy, and the source read is not reported") {
  Harness h;
  start_with(h, {{"/r/a", "content"}});
  h.fs.write("/r/b", "content");
  records(h, "/r", {{IN_OPEN, "a"}, {IN_CREATE, "b"}, {IN_OPEN, "b"}, {IN_CLOSE_WRITE, "b"}});
  // a, of b's size, is still open (cp closes its source last): nothing is read until it closes.
  CHECK(h.actions().empty());
  CHECK(h.fs.hashed.empty());
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/b"});
  CHECK(quiet_after(h, 200));
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
  // Our own hashing reads come back as records: they are not reads.
  opened_and_read(h, "/r", {"b", "a"});
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("cat a > b is a copy although a is closed before b") {
  Harness h;
  start_with(h, {{"/r/a", "content"}});
  h.fs.write("/r/b", "content");
  records(h, "/r", {{IN_CREATE, "b"}, {IN_OPEN, "b"}, {IN_OPEN, "a"}, {IN_CLOSE_NOWRITE, "a"}});
  h.advance(150);  // a's read is held: it may be the source of what is being written
  CHECK(h.actions().empty());
  h.record("/r", IN_CLOSE_WRITE, "b");
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/b"});
  CHECK(quiet_after(h, 1000));
}

TEST_CASE("install and cp -p, with their attribute changes, are copies") {
  Harness h;
  start_with(h, {{"/r/a", "#!/bin/sh\n"}});
  h.fs.write("/r/c", "#!/bin/sh\n");
  records(h, "/r", {{IN_OPEN, "a"}, {IN_CREATE, "c"}, {IN_OPEN, "c"}, {IN_ATTRIB, "c"},
                    {IN_CLOSE_WRITE, "c"}, {IN_ATTRIB, "c"}, {IN_CLOSE_NOWRITE, "a"}});
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/c"});
  CHECK(quiet_after(h, 200));
}

TEST_CASE("a file of equal size but other content written while another is read is not a copy") {
  Harness h;
  start_with(h, {{"/r/a", "aaaa"}});
  h.fs.write("/r/b", "bbbb");
  records(h, "/r", {{IN_OPEN, "a"}, {IN_CREATE, "b"}, {IN_OPEN, "b"}, {IN_CLOSE_WRITE, "b"}});
  // Not read while a's reader holds it: inotify merges identical records in a row, so our
  // CLOSE_NOWRITE of a right beside the reader's would arrive as one, taken for ours, and the
  // read would be lost.
  CHECK(h.actions().empty());
  CHECK(h.fs.hashed.empty());
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
  // Our own hashing reads come back after the reader's close: not reads.
  opened_and_read(h, "/r", {"b", "a"});
  h.advance(200);
  CHECK(h.actions() == Lines{"read file /r/a"});
}

TEST_CASE("a new file whose possible source stays open is named when the settle window ends") {
  Harness h;
  start_with(h, {{"/r/a", "aaaa"}});
  h.fs.write("/r/b", "bbbb");
  h.record("/r", IN_OPEN, "a");  // and held open
  records(h, "/r", {{IN_CREATE, "b"}, {IN_OPEN, "b"}, {IN_CLOSE_WRITE, "b"}});
  CHECK(quiet_after(h, 150));
  h.advance(100);  // the settle window is 200 ms
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
}

TEST_CASE("a file with the same content as one read earlier, not during its writing, is a create") {
  Harness h;
  start_with(h, {{"/r/a", "same"}});
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.advance(200);
  CHECK(h.actions() == Lines{"read file /r/a"});
  new_file_written(h, "/r", "b", "same");
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(h.fs.hashed.empty());
}

TEST_CASE("a file renamed before its close was read is created, then moved") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "a", "x");
  h.fs.rename("/r/a", "/r/b");  // echo x > a && mv a b: both before the read()
  h.record("/r", IN_CLOSE_WRITE, "a");
  h.record("/r", IN_MOVED_FROM, "a", 3);
  h.record("/r", IN_MOVED_TO, "b", 3);
  h.advance(500);
  CHECK(h.actions() == Lines{"create file /r/a", "move file /r/a -> /r/b"});
}

TEST_CASE("the agent's ignored paths are never reported") {
  WatchOptions options = Harness::default_options();
  options.ignore_paths = {"/r/.folderhook"};
  Harness h(options);
  h.fs.mkdir("/r/.folderhook");
  h.start();
  CHECK_FALSE(h.fs.wd("/r/.folderhook").has_value());
  h.fs.write("/r/.folderhook/state.db", "x");
  h.record("/r", IN_OPEN, ".folderhook");
  h.record("/r", IN_CLOSE_WRITE, ".folderhook");
  CHECK(quiet_after(h, 300));
}

TEST_CASE("an overflowing kernel queue is logged, counted and handed to the rescan hook") {
  WatchOptions options = Harness::default_options();
  int rescans = 0;
  options.on_overflow = [&] { ++rescans; };
  Harness h(options);
  h.start();
  h.raw(-1, IN_Q_OVERFLOW);
  CHECK(h.builder().stats().overflows == 1);
  CHECK(rescans == 1);
  REQUIRE_FALSE(h.logs.empty());
  CHECK(h.logs.back().level == "warn");
  CHECK(h.logs.back().message.find("overflow") != std::string::npos);
}

}  // namespace folderhook::watch::testing
