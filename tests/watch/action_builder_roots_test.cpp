// ActionBuilder::set_roots: the folder list changing while the builder runs (a reload).
#include <doctest/doctest.h>

#include "tests/watch/builder_fixture.h"

namespace folderhook::watch::testing {

TEST_CASE("set_roots: a new folder is watched without reporting what it holds, then live") {
  Harness h;
  h.fs.mkdir("/s");
  h.fs.mkdir("/s/sub");
  h.fs.write("/s/sub/old", "o");
  h.start();
  const auto added = h.builder().set_roots({{"/r", {}}, {"/s", {}}}, h.now());
  CHECK(added == std::vector<std::string>{"/s"});
  CHECK(h.actions().empty());
  CHECK(h.builder().table().wd_of("/s/sub").has_value());
  h.fs.write("/s/sub/new", "n");
  h.record("/s/sub", IN_CREATE | IN_OPEN, "new");
  h.record("/s/sub", IN_CLOSE_WRITE, "new");
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /s/sub/new"});
}

TEST_CASE("set_roots: a folder gone from the list loses its watches and its pending writes") {
  Harness h;
  h.fs.mkdir("/s");
  h.fs.mkdir("/s/d");
  h.start();
  h.builder().set_roots({{"/r", {}}, {"/s", {}}}, h.now());
  h.fs.write("/s/d/w", "w");
  h.record("/s/d", IN_CREATE | IN_OPEN, "w");  // being written when the folder leaves
  const auto added = h.builder().set_roots({{"/r", {}}}, h.now());
  CHECK(added.empty());
  CHECK_FALSE(h.builder().table().wd_of("/s").has_value());
  CHECK_FALSE(h.builder().table().wd_of("/s/d").has_value());
  CHECK(h.builder().table().wd_of("/r").has_value());
  CHECK(quiet_after(h, 1000));
  CHECK(h.builder().top_roots() == std::vector<std::string>{"/r"});
}

TEST_CASE("set_roots: a folder nested in one that stays is neither added nor forgotten") {
  Harness h;
  h.fs.mkdir("/r/in");
  h.start();
  CHECK(h.builder().set_roots({{"/r", {}}, {"/r/in", {"*.up"}}}, h.now()).empty());
  CHECK(h.builder().table().wd_of("/r/in").has_value());
  // Its temp_patterns apply from now: an upload to x.up renamed to x is one create.
  h.fs.write("/r/in/x.up", "x");
  h.record("/r/in", IN_CREATE | IN_OPEN, "x.up");
  h.record("/r/in", IN_CLOSE_WRITE, "x.up");
  h.fs.rename("/r/in/x.up", "/r/in/x");
  h.record("/r/in", IN_MOVED_FROM, "x.up", 7);
  h.record("/r/in", IN_MOVED_TO, "x", 7);
  h.advance(200);
  CHECK(h.actions() == Lines{"create file /r/in/x"});
}

}  // namespace folderhook::watch::testing
