#include "watch/watch_table.h"

#include <algorithm>
#include <string>

#include <doctest/doctest.h>

namespace folderhook::watch {

TEST_CASE("a directory move rewrites every watched path beneath it and keeps the wds") {
  WatchTable table;
  table.add(1, "/r");
  table.add(2, "/r/d");
  table.add(3, "/r/d/e");
  table.add(4, "/r/d-x");
  table.rebase("/r/d", "/r/n");
  CHECK(table.path_of(2) == "/r/n");
  CHECK(table.path_of(3) == "/r/n/e");
  CHECK(table.path_of(4) == "/r/d-x");
  CHECK(table.wd_of("/r/n/e") == 3);
  CHECK_FALSE(table.wd_of("/r/d").has_value());
  CHECK(table.watches_within("/r/n") == std::vector<int>{3, 2});
}

TEST_CASE("a move onto a path the table already holds keeps the moved wds and drops the one there") {
  WatchTable table;
  table.add(1, "/r");
  table.add(2, "/r/a");
  table.add(3, "/r/a/x");
  table.add(4, "/r/b");
  table.add(5, "/r/b/y");
  table.rebase("/r/a", "/r/b");
  CHECK(table.path_of(2) == "/r/b");
  CHECK(table.path_of(3) == "/r/b/x");
  CHECK(table.path_of(5) == "/r/b/y");
  CHECK_FALSE(table.path_of(4).has_value());
  CHECK_FALSE(table.wd_of("/r/a").has_value());
  CHECK(table.size() == 4);
}

TEST_CASE("a directory only on the way to a watched one has no wd, and goes with it") {
  WatchTable table;
  table.add(7, "/r/a/b");
  CHECK_FALSE(table.wd_of("/r/a").has_value());
  CHECK(table.watches_within("/r") == std::vector<int>{7});
  table.rebase("/r/a", "/s/t/u");  // into directories the table never saw
  CHECK(table.path_of(7) == "/s/t/u/b");
  CHECK(table.watches_within("/r").empty());
  table.remove(7);
  CHECK(table.size() == 0);
  CHECK_FALSE(table.path_of(7).has_value());
  CHECK_FALSE(table.wd_of("/s/t/u/b").has_value());
  table.add(8, "/");
  CHECK(table.path_of(8) == "/");
  CHECK(table.wd_of("/") == 8);
}

TEST_CASE("a wd added again moves to its new path, and a path added again takes the new wd") {
  WatchTable table;
  table.add(1, "/r/a");
  table.add(1, "/r/b");
  CHECK(table.path_of(1) == "/r/b");
  CHECK_FALSE(table.wd_of("/r/a").has_value());
  table.add(2, "/r/b");
  CHECK(table.wd_of("/r/b") == 2);
  CHECK_FALSE(table.path_of(1).has_value());
  CHECK(table.size() == 1);
}

TEST_CASE("watches within a directory come before the directories above them") {
  WatchTable table;
  for (int i = 0; i < 50; ++i) table.add(100 + i, "/r/d" + std::to_string(49 - i));  // unsorted
  table.add(1, "/r");
  table.add(2, "/r/d7/e");
  const std::vector<int> within = table.watches_within("/r");
  REQUIRE(within.size() == 52);
  CHECK(within.back() == 1);
  const auto at = [&](int wd) { return std::find(within.begin(), within.end(), wd) - within.begin(); };
  CHECK(at(2) < at(100 + 49 - 7));
  CHECK(table.wd_of("/r/d7") == 100 + 49 - 7);
  CHECK(table.path_of(100) == "/r/d49");
}

TEST_CASE("path containment respects component boundaries") {
  CHECK(path_is_within("/r/a", "/r"));
  CHECK(path_is_within("/r", "/r"));
  CHECK_FALSE(path_is_within("/rx", "/r"));
  CHECK(path_is_within("/r", "/"));
  CHECK(rebase_path("/r/d/f", "/r/d", "/s") == "/s/f");
}

}  // namespace folderhook::watch
