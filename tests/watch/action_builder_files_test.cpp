// ActionBuilder on single files: create, update, read, destroy, move, copy, temp uploads.
#include <doctest/doctest.h>

#include "tests/watch/builder_harness.h"

namespace folderhook::watch::testing {

TEST_CASE("a new file is created when its writer closes it, never while it is written") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "x");
  h.record("/r", IN_CREATE, "a");
  h.record("/r", IN_OPEN, "a");
  h.advance(5000);
  CHECK(h.actions().empty());
  // Named at the close itself: the clock does not move.
  h.record("/r", IN_CLOSE_WRITE, "a");
  CHECK(h.actions() == Lines{"create file /r/a"});
  CHECK(h.taken()[0].username == "alice");
  CHECK(h.taken()[0].at == h.now().wall);
  CHECK_FALSE(h.builder().next_deadline().has_value());
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("a new file written and closed is named with one stat, the one its close needs") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "x");
  h.record("/r", IN_CREATE, "a");
  h.record("/r", IN_OPEN, "a");
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
  h.fs.write("/r/e", "old");
  h.start();
  h.fs.write("/r/e", "new");
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions() == Lines{"update file /r/e"});
  h.advance(50);
  h.fs.write("/r/e", "newer");
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions() == Lines{"update file /r/e"});
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("touch on an existing file is an update") {
  Harness h;
  h.fs.write("/r/e", "x");
  h.start();
  h.record("/r", IN_OPEN, "e");
  h.record("/r", IN_CLOSE_WRITE, "e");
  CHECK(h.actions() == Lines{"update file /r/e"});
}

TEST_CASE("a regular file opened and closed without writing is a read, a listed directory is not") {
  Harness h;
  h.fs.write("/r/a", "x");
  h.fs.mkdir("/r/d");
  h.start();
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.record("/r", IN_OPEN | IN_ISDIR, "d");
  h.record("/r", IN_CLOSE_NOWRITE | IN_ISDIR, "d");
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
  h.record("/r", IN_CREATE, "a");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_WRITE, "a");
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
  h.fs.write("/r/a", "x");
  h.start();
  h.fs.rename("/r/a", "/r/b");
  h.record("/r", IN_MOVED_FROM, "a", 9);
  CHECK(h.actions().empty());  // held until the pair arrives
  h.advance(100);
  h.record("/r", IN_MOVED_TO, "b", 9);
  CHECK(h.actions() == Lines{"move file /r/a -> /r/b"});
}

TEST_CASE("a file moved out of every watched folder is destroyed after the pairing window") {
  Harness h;
  h.fs.write("/r/a", "x");
  h.start();
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_MOVED_FROM, "a", 5);
  h.advance(249);
  CHECK(h.actions().empty());
  h.advance(1);
  CHECK(h.actions() == Lines{"destroy file /r/a"});
}

TEST_CASE("two adjacent unrelated moves with different cookies keep their order") {
  // mv w/new.txt out/ ; mv out/new.txt w/back.txt
  Harness h;
  h.fs.write("/r/new.txt", "x");
  h.start();
  h.fs.rename("/r/new.txt", "/r/back.txt");
  h.record("/r", IN_MOVED_FROM, "new.txt", 1);
  h.record("/r", IN_MOVED_TO, "back.txt", 2);
  CHECK(h.actions().empty());
  h.advance(250);
  CHECK(h.actions() == Lines{"destroy file /r/new.txt", "create file /r/back.txt"});
}

TEST_CASE("a file moved in from outside is created at once, over an existing name it updates") {
  Harness h;
  h.fs.write("/r/old", "1");
  h.start();
  h.fs.write("/r/in", "x");
  h.record("/r", IN_MOVED_TO, "in", 3);
  h.fs.write("/r/old", "2");
  h.record("/r", IN_MOVED_TO, "old", 4);
  CHECK(h.actions() == Lines{"create file /r/in", "update file /r/old"});
}

TEST_CASE("a file created and deleted soon after is a create then a destroy") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "x");
  h.record("/r", IN_CREATE, "a");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_WRITE, "a");
  h.advance(50);
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_DELETE, "a");
  CHECK(h.actions() == Lines{"create file /r/a", "destroy file /r/a"});
  h.advance(500);
  CHECK(h.actions().empty());
}

TEST_CASE("a file deleted while its writer still holds it was never complete: nothing") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "x");
  h.record("/r", IN_CREATE, "a");
  h.record("/r", IN_OPEN, "a");
  h.fs.remove_tree("/r/a");
  h.record("/r", IN_DELETE, "a");
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("hard links, symlinks and special files are created after a short settle") {
  Harness h;
  h.fs.write("/r/a", "x");
  h.start();
  h.fs.write("/r/h", "x");
  h.record("/r", IN_CREATE, "h");
  h.fs.symlink("/r/s");
  h.record("/r", IN_CREATE, "s");
  h.advance(199);
  CHECK(h.actions().empty());
  h.advance(1);
  CHECK(h.actions() == Lines{"create file /r/h", "create file /r/s"});
}

TEST_CASE("an upload through rsync's temp name is one create for the final name") {
  Harness h;
  h.start();
  h.fs.write("/r/.up.bin.x9PN0B", "data");
  h.record("/r", IN_CREATE, ".up.bin.x9PN0B");
  h.record("/r", IN_OPEN, ".up.bin.x9PN0B");
  h.record("/r", IN_CLOSE_WRITE, ".up.bin.x9PN0B");
  h.record("/r", IN_OPEN, ".up.bin.x9PN0B");
  h.record("/r", IN_CLOSE_NOWRITE, ".up.bin.x9PN0B");
  h.advance(1000);
  CHECK(h.actions().empty());
  h.fs.rename("/r/.up.bin.x9PN0B", "/r/up.bin");
  h.record("/r", IN_MOVED_FROM, ".up.bin.x9PN0B", 11);
  h.record("/r", IN_MOVED_TO, "up.bin", 11);
  CHECK(h.actions() == Lines{"create file /r/up.bin"});  // at the rename
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("an upload through a temp name over an existing file is an update") {
  Harness h;
  h.fs.write("/r/f", "old");
  h.start();
  h.fs.write("/r/f.part", "new");
  h.record("/r", IN_CREATE, "f.part");
  h.record("/r", IN_OPEN, "f.part");
  h.record("/r", IN_CLOSE_WRITE, "f.part");
  h.fs.rename("/r/f.part", "/r/f");
  h.record("/r", IN_MOVED_FROM, "f.part", 12);
  h.record("/r", IN_MOVED_TO, "f", 12);
  CHECK(h.actions() == Lines{"update file /r/f"});
}

TEST_CASE("a temp file deleted or moved out is never reported") {
  Harness h;
  h.start();
  h.fs.write("/r/a.filepart", "x");
  h.record("/r", IN_CREATE, "a.filepart");
  h.record("/r", IN_OPEN, "a.filepart");
  h.record("/r", IN_CLOSE_WRITE, "a.filepart");
  h.fs.write("/r/b.tmp", "x");
  h.record("/r", IN_CREATE, "b.tmp");
  h.advance(300);
  h.fs.remove_tree("/r/a.filepart");
  h.record("/r", IN_DELETE, "a.filepart");
  h.record("/r", IN_MOVED_FROM, "b.tmp", 4);
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("cp a b inside a watched folder is a copy, and the source read is not reported") {
  Harness h;
  h.fs.write("/r/a", "content");
  h.start();
  h.fs.write("/r/b", "content");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CREATE, "b");
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_CLOSE_WRITE, "b");
  // a, of b's size, is still open (cp closes its source last): nothing is read until it closes.
  CHECK(h.actions().empty());
  CHECK(h.fs.hashed.empty());
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/b"});
  h.advance(200);
  CHECK(h.actions().empty());
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
  // Our own hashing reads come back as records: they are not reads.
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_CLOSE_NOWRITE, "b");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("cat a > b is a copy although a is closed before b") {
  Harness h;
  h.fs.write("/r/a", "content");
  h.start();
  h.fs.write("/r/b", "content");
  h.record("/r", IN_CREATE, "b");
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.advance(150);  // a's read is held: it may be the source of what is being written
  CHECK(h.actions().empty());
  h.record("/r", IN_CLOSE_WRITE, "b");
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/b"});
  h.advance(1000);
  CHECK(h.actions().empty());
}

TEST_CASE("install and cp -p, with their attribute changes, are copies") {
  Harness h;
  h.fs.write("/r/a", "#!/bin/sh\n");
  h.start();
  h.fs.write("/r/c", "#!/bin/sh\n");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CREATE, "c");
  h.record("/r", IN_OPEN, "c");
  h.record("/r", IN_ATTRIB, "c");
  h.record("/r", IN_CLOSE_WRITE, "c");
  h.record("/r", IN_ATTRIB, "c");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  CHECK(h.actions() == Lines{"copy file /r/a -> /r/c"});
  h.advance(200);
  CHECK(h.actions().empty());
}

TEST_CASE("a file of equal size but other content written while another is read is not a copy") {
  Harness h;
  h.fs.write("/r/a", "aaaa");
  h.start();
  h.fs.write("/r/b", "bbbb");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CREATE, "b");
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_CLOSE_WRITE, "b");
  // Not read while a's reader holds it: inotify merges identical records in a row, so our
  // CLOSE_NOWRITE of a right beside the reader's would arrive as one, taken for ours, and the
  // read would be lost.
  CHECK(h.actions().empty());
  CHECK(h.fs.hashed.empty());
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
  // Our own hashing reads come back after the reader's close: not reads.
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_CLOSE_NOWRITE, "b");
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.advance(200);
  CHECK(h.actions() == Lines{"read file /r/a"});
}

TEST_CASE("a new file whose possible source stays open is named when the settle window ends") {
  Harness h;
  h.fs.write("/r/a", "aaaa");
  h.start();
  h.fs.write("/r/b", "bbbb");
  h.record("/r", IN_OPEN, "a");  // and held open
  h.record("/r", IN_CREATE, "b");
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_CLOSE_WRITE, "b");
  h.advance(150);
  CHECK(h.actions().empty());
  h.advance(100);  // the settle window is 200 ms
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(h.fs.hashed == std::vector<std::string>{"/r/b", "/r/a"});
}

TEST_CASE("a file with the same content as one read earlier, not during its writing, is a create") {
  Harness h;
  h.fs.write("/r/a", "same");
  h.start();
  h.record("/r", IN_OPEN, "a");
  h.record("/r", IN_CLOSE_NOWRITE, "a");
  h.advance(200);
  CHECK(h.actions() == Lines{"read file /r/a"});
  h.fs.write("/r/b", "same");
  h.record("/r", IN_CREATE, "b");
  h.record("/r", IN_OPEN, "b");
  h.record("/r", IN_CLOSE_WRITE, "b");
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(h.fs.hashed.empty());
}

TEST_CASE("a file renamed before its close was read is created, then moved") {
  Harness h;
  h.start();
  h.fs.write("/r/a", "x");
  h.record("/r", IN_CREATE, "a");
  h.record("/r", IN_OPEN, "a");
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
  h.advance(300);
  CHECK(h.actions().empty());
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
