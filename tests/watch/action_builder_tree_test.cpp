// ActionBuilder on directories: recursion, directory moves, rm -rf, roots, watch limits.
#include <doctest/doctest.h>

#include "tests/watch/builder_fixture.h"

namespace folderhook::watch::testing {

TEST_CASE("mkdir -p a/b/c && echo x > a/b/c/f reports every directory and the file once each") {
  Harness h;
  h.start();
  // By the time the CREATE of a is read, the whole chain exists: the scan after each new
  // watch finds it, and the CREATE records that follow are duplicates.
  h.fs.mkdir("/r/a");
  h.fs.mkdir("/r/a/b");
  h.fs.mkdir("/r/a/b/c");
  h.fs.write("/r/a/b/c/f", "x\n");
  h.record("/r", IN_CREATE | IN_ISDIR, "a");
  CHECK(h.actions() ==
        Lines{"create directory /r/a", "create directory /r/a/b", "create directory /r/a/b/c"});
  h.record("/r/a", IN_CREATE | IN_ISDIR, "b");
  h.record("/r/a/b", IN_CREATE | IN_ISDIR, "c");
  records(h, "/r/a/b/c", {{IN_CREATE, "f"}, {IN_OPEN, "f"}, {IN_CLOSE_WRITE, "f"}});
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/a/b/c/f"});
  CHECK(h.builder().stats().watches == 4);
}

TEST_CASE("a file found by the scan of a new directory is created once it stops growing") {
  Harness h;
  h.start();
  h.fs.mkdir("/r/a");
  h.fs.write("/r/a/f", "x");
  h.record("/r", IN_CREATE | IN_ISDIR, "a");
  CHECK(h.actions() == Lines{"create directory /r/a"});
  h.fs.write("/r/a/f", "xx");  // its writer opened it before our watch and is still writing
  CHECK(quiet_after(h, 200));
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/a/f"});
}

TEST_CASE("a directory move is one move, and later operations inside it use the new path") {
  Harness h;
  h.fs.mkdir("/r/d");
  h.fs.mkdir("/r/d/sub");
  h.fs.write("/r/d/sub/f", "x");
  h.start();
  const int sub_wd = *h.fs.wd("/r/d/sub");
  h.fs.rename("/r/d", "/r/n");
  h.record("/r", IN_MOVED_FROM | IN_ISDIR, "d", 21);
  h.record("/r", IN_MOVED_TO | IN_ISDIR, "n", 21);
  h.record("/r/n", IN_MOVE_SELF);
  CHECK(h.actions() == Lines{"move directory /r/d -> /r/n"});
  // The kernel still reports through the old wd, which now watches /r/n/sub.
  h.raw(sub_wd, IN_OPEN, "f");
  h.raw(sub_wd, IN_CLOSE_WRITE, "f");
  h.advance(200);
  CHECK(h.actions() == Lines{"update file /r/n/sub/f"});
  h.fs.remove_tree("/r/n/sub/f");
  h.raw(sub_wd, IN_DELETE, "f");
  CHECK(h.actions() == Lines{"destroy file /r/n/sub/f"});
}

TEST_CASE("rm -rf reports every file and directory inside, deepest first") {
  Harness h;
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/f", "x");
  h.fs.mkdir("/r/d/s");
  h.fs.write("/r/d/s/g", "y");
  h.start();
  const int d = *h.fs.wd("/r/d");
  const int s = *h.fs.wd("/r/d/s");
  h.fs.remove_tree("/r/d");
  h.raw(d, IN_DELETE, "f");
  h.raw(s, IN_DELETE, "g");
  h.raw(s, IN_DELETE_SELF);
  h.raw(s, IN_IGNORED);
  h.raw(d, IN_DELETE | IN_ISDIR, "s");
  h.raw(d, IN_DELETE_SELF);
  h.raw(d, IN_IGNORED);
  h.record("/r", IN_DELETE | IN_ISDIR, "d");
  CHECK(h.actions() == Lines{"destroy file /r/d/f", "destroy file /r/d/s/g",
                             "destroy directory /r/d/s", "destroy directory /r/d"});
  CHECK(h.builder().stats().watches == 1);
}

TEST_CASE("a directory moved in from outside is created with everything inside, parents first") {
  Harness h;
  h.start();
  h.fs.mkdir("/r/in");
  h.fs.write("/r/in/a", "1");
  h.fs.mkdir("/r/in/sub");
  h.fs.write("/r/in/sub/b", "2");
  h.fs.write("/r/in/z", "3");
  h.record("/r", IN_MOVED_TO | IN_ISDIR, "in", 30);
  CHECK(h.actions() == Lines{"create directory /r/in", "create file /r/in/a",
                             "create directory /r/in/sub", "create file /r/in/z",
                             "create file /r/in/sub/b"});
  CHECK(h.fs.wd("/r/in/sub").has_value());
}

TEST_CASE("a directory moved out is destroyed with everything inside after the pairing window") {
  Harness h;
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/f", "x");
  h.fs.mkdir("/r/d/s");
  h.start();
  const int d = *h.fs.wd("/r/d");
  h.fs.remove_tree("/r/d");
  h.record("/r", IN_MOVED_FROM | IN_ISDIR, "d", 40);
  h.raw(d, IN_MOVE_SELF);
  CHECK(quiet_after(h, 249));
  h.advance(1);
  CHECK(h.actions() ==
        Lines{"destroy directory /r/d/s", "destroy file /r/d/f", "destroy directory /r/d"});
  // Its watches follow it out of the tree: they are dropped.
  CHECK_FALSE(h.fs.wd("/r/d").has_value());
  CHECK(h.builder().stats().watches == 1);
}

TEST_CASE("cp -r copies each file and creates each directory") {
  Harness h;
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/f", "one");
  h.fs.write("/r/d/g", "two");
  h.start();
  // cp made d2 and wrote d2/f before our watch on d2 existed; d2/g comes after it.
  h.fs.mkdir("/r/d2");
  h.fs.write("/r/d2/f", "one");
  h.record("/r", IN_CREATE | IN_ISDIR, "d2");
  CHECK(h.actions() == Lines{"create directory /r/d2"});
  h.record("/r/d", IN_OPEN, "f");
  records(h, "/r/d2", {{IN_CREATE, "f"}, {IN_OPEN, "f"}, {IN_CLOSE_WRITE, "f"}});
  h.record("/r/d", IN_CLOSE_NOWRITE, "f");
  h.fs.write("/r/d2/g", "two");
  h.record("/r/d", IN_OPEN, "g");
  records(h, "/r/d2", {{IN_CREATE, "g"}, {IN_OPEN, "g"}, {IN_CLOSE_WRITE, "g"}});
  h.record("/r/d", IN_CLOSE_NOWRITE, "g");
  h.advance(200);
  CHECK(h.actions() == Lines{"copy file /r/d/f -> /r/d2/f", "copy file /r/d/g -> /r/d2/g"});
}

TEST_CASE("moves between two roots are moves, nested roots are watched once") {
  WatchOptions options = Harness::default_options();
  options.roots.push_back({"/s", {}});
  options.roots.push_back({"/r/in", {"*.upload"}});
  options.roots.push_back({"/r", {}});  // repeated
  Harness h(options);
  h.fs.mkdir("/r/in");
  h.fs.write("/r/a", "x");
  h.start();
  CHECK(h.fs.add_watch_calls == 3);  // /r, /r/in, /s
  h.fs.rename("/r/a", "/s/a");
  h.record("/r", IN_MOVED_FROM, "a", 50);
  h.record("/s", IN_MOVED_TO, "a", 50);
  CHECK(h.actions() == Lines{"move file /r/a -> /s/a"});
  // temp_patterns come from the deepest root: *.upload under /r/in, *.part is not set there.
  new_file_written(h, "/r/in", "x.upload", "1");
  new_file_written(h, "/r/in", "y.part", "1");
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/in/y.part"});
}

TEST_CASE("a deleted root is destroyed and watched again when it reappears") {
  Harness h;
  start_with(h, {{"/r/a", "x"}});
  const int root = *h.fs.wd("/r");
  h.fs.remove_tree("/r");
  h.raw(root, IN_DELETE, "a");
  h.raw(root, IN_DELETE_SELF);
  h.raw(root, IN_IGNORED);
  CHECK(h.actions() == Lines{"destroy file /r/a", "destroy directory /r"});
  CHECK(h.builder().stats().watches == 0);
  CHECK(quiet_after(h, 500));
  h.fs.mkdir("/r");
  h.fs.mkdir("/r/sub");
  h.advance(500);
  CHECK(h.actions() == Lines{"create directory /r", "create directory /r/sub"});
  new_file_written(h, "/r/sub", "n", "x");
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/sub/n"});
}

TEST_CASE("a root missing at start is logged and picked up when it appears") {
  Harness h;
  h.fs.remove_tree("/r");
  h.start();
  REQUIRE(h.logs.size() == 1);
  CHECK(h.logs[0].level == "warn");
  CHECK(h.logs[0].fields["path"] == "/r");
  CHECK(h.builder().next_deadline().has_value());
  h.fs.mkdir("/r");
  h.fs.write("/r/early", "x");
  h.advance(500);
  CHECK(h.actions() == Lines{"create directory /r"});
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/early"});
  CHECK(h.fs.wd("/r").has_value());
}

TEST_CASE("running out of inotify watches is one clear log line and a degraded state") {
  Harness h;
  h.fs.mkdir("/r/a");
  h.fs.mkdir("/r/b");
  h.fs.mkdir("/r/c");
  h.fs.watch_limit = 2;
  h.start();
  CHECK(h.builder().stats().degraded);
  CHECK(h.builder().stats().watches == 2);
  REQUIRE(h.logs.size() == 1);
  CHECK(h.logs[0].level == "error");
  CHECK(h.logs[0].message.find("fs.inotify.max_user_watches") != std::string::npos);
  CHECK(h.logs[0].message.find("needs 4 watches") != std::string::npos);
  CHECK(h.logs[0].message.find("No space left") == std::string::npos);
  // It keeps serving what is watched, and does not repeat the error.
  h.fs.mkdir("/r/d");
  h.record("/r", IN_CREATE | IN_ISDIR, "d");
  CHECK(h.actions() == Lines{"create directory /r/d"});
  CHECK(h.logs.back().level == "debug");
}

TEST_CASE("a symlink to a directory is reported as a file and never followed") {
  Harness h;
  h.start();
  h.fs.symlink("/r/loop");
  h.record("/r", IN_CREATE, "loop");
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/loop"});
  CHECK(h.builder().stats().watches == 1);
}

}  // namespace folderhook::watch::testing

namespace folderhook::watch::testing {

TEST_CASE("a root moved away is destroyed with everything inside and looked for again") {
  Harness h;
  h.fs.mkdir("/r/d");
  h.fs.write("/r/d/f", "x");
  h.start();
  h.fs.rename("/r", "/elsewhere");
  h.record("/r", IN_MOVE_SELF);
  CHECK(h.actions() ==
        Lines{"destroy file /r/d/f", "destroy directory /r/d", "destroy directory /r"});
  CHECK(h.builder().stats().watches == 0);
  CHECK(h.builder().next_deadline().has_value());
}

TEST_CASE("a directory created and removed again before it was scanned is created then destroyed") {
  Harness h;
  h.start();
  h.record("/r", IN_CREATE | IN_ISDIR, "gone");
  h.record("/r", IN_DELETE | IN_ISDIR, "gone");
  CHECK(h.actions() == Lines{"create directory /r/gone", "destroy directory /r/gone"});
}

}  // namespace folderhook::watch::testing
