#include "watch/watch_table.h"

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

TEST_CASE("path containment respects component boundaries") {
  CHECK(path_is_within("/r/a", "/r"));
  CHECK(path_is_within("/r", "/r"));
  CHECK_FALSE(path_is_within("/rx", "/r"));
  CHECK(path_is_within("/r", "/"));
  CHECK(rebase_path("/r/d/f", "/r/d", "/s") == "/s/f");
}

}  // namespace folderhook::watch
