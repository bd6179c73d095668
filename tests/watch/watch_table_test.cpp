#include "watch/watch_table.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

namespace folderhook::watch {
namespace {

// A table holding these watches (wd, path), added in this order.
void add_all(WatchTable& table, const std::vector<std::pair<int, std::string>>& watches) {
  for (const auto& [wd, path] : watches) table.add(wd, path);
}

}  // namespace

TEST_CASE("a directory move rewrites every watched path beneath it and keeps the wds") {
  WatchTable table;
  add_all(table, {{1, "/r"}, {2, "/r/d"}, {3, "/r/d/e"}, {4, "/r/d-x"}});
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
  add_all(table, {{1, "/r"}, {2, "/r/a"}, {3, "/r/a/x"}, {4, "/r/b"}, {5, "/r/b/y"}});
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

TEST_CASE("known objects share the tree with the watches and follow a directory move") {
  WatchTable table;
  table.add(1, "/r");
  table.set_known("/r", {FileKind::kDirectory, 0});
  table.set_known("/r/d", {FileKind::kDirectory, 7});
  table.set_known("/r/d/f", {FileKind::kRegular, 8, true});
  table.set_known("/r/d-x", {FileKind::kRegular, 9});
  table.add(2, "/r/d");
  CHECK(table.known_count() == 4);
  table.rebase("/r/d", "/r/n");
  CHECK_FALSE(table.is_known("/r/d"));
  CHECK_FALSE(table.is_known("/r/d/f"));
  REQUIRE(table.known("/r/n/f") != nullptr);
  CHECK(table.known("/r/n/f")->uid == 8);
  CHECK(table.known("/r/n/f")->indexed);
  CHECK(table.known("/r/n")->kind == FileKind::kDirectory);
  CHECK(table.path_of(2) == "/r/n");
  // Sorted as strings: "/r/d-x" before "/r/n", a parent before its children.
  CHECK(table.known_within("/r") ==
        std::vector<std::string>{"/r", "/r/d-x", "/r/n", "/r/n/f"});
  CHECK(table.known_within("/r/n") == std::vector<std::string>{"/r/n", "/r/n/f"});
  CHECK(table.known_within("/nowhere").empty());
}

TEST_CASE("forgetting a known object keeps the watch on its node, and the last one frees it") {
  WatchTable table;
  table.set_known("/r/a/b", {FileKind::kRegular, 1});
  table.add(5, "/r/a");
  table.forget("/r/a/b");
  CHECK(table.known_count() == 0);
  CHECK(table.wd_of("/r/a") == 5);
  CHECK(table.known_within("/r").empty());
  table.known_or("/r/a", {FileKind::kDirectory, 3});
  CHECK(table.known_or("/r/a", {FileKind::kRegular, 4}).uid == 3);  // already known: kept
  table.remove(5);
  CHECK(table.known("/r/a")->uid == 3);  // the known object outlives the watch
  table.forget_within("/r", [](const std::string&, const WatchTable::Known&) { return true; });
  CHECK(table.known_count() == 0);
  CHECK_FALSE(table.is_known("/r/a"));
  CHECK(table.size() == 0);
}

TEST_CASE("a move onto a known path replaces what was known there") {
  WatchTable table;
  table.set_known("/r/a", {FileKind::kDirectory, 1});
  table.set_known("/r/a/x", {FileKind::kRegular, 2});
  table.set_known("/r/b", {FileKind::kDirectory, 3});
  table.set_known("/r/b/y", {FileKind::kRegular, 4});
  table.rebase("/r/a", "/r/b");
  CHECK(table.known("/r/b")->uid == 1);
  CHECK(table.known("/r/b/x")->uid == 2);
  CHECK(table.known("/r/b/y")->uid == 4);  // not beneath the moved directory: left alone
  CHECK_FALSE(table.is_known("/r/a"));
  CHECK(table.known_count() == 3);
}

TEST_CASE("forget_within drops only what the predicate names") {
  WatchTable table;
  table.set_known("/r/a", {FileKind::kDirectory, 0, true});
  table.set_known("/r/a/i", {FileKind::kRegular, 0, true});
  table.set_known("/r/a/k", {FileKind::kRegular, 0, false});
  table.forget_within("/r/a", [](const std::string&, const WatchTable::Known& k) { return k.indexed; });
  CHECK(table.known_within("/r") == std::vector<std::string>{"/r/a/k"});
}

TEST_CASE("the hash set of node ids agrees with std::set through random inserts and erases") {
  // Backward-shift deletion must leave every remaining member findable, wrap-around included:
  // a deliberately poor hash (many members share a home slot) exercises long runs.
  std::mt19937 rng(12345);
  std::vector<uint32_t> home(4000);
  for (auto& h : home) h = rng() % 64;
  const auto hash_of = [&](uint32_t id) { return static_cast<std::size_t>(home[id]); };
  IdSet set;
  std::set<uint32_t> model;
  for (int step = 0; step < 20000; ++step) {
    const uint32_t id = rng() % home.size();
    if (model.count(id)) {
      set.erase(id, hash_of);
      model.erase(id);
    } else {
      set.insert(id, hash_of);
      model.insert(id);
    }
    if (step % 997 == 0) {
      for (uint32_t probe = 0; probe < home.size(); ++probe) {
        const uint32_t got = set.find(hash_of(probe), [&](uint32_t c) { return c == probe; });
        REQUIRE((got == probe) == (model.count(probe) == 1));
      }
    }
  }
  CHECK(set.size() == model.size());
}

}  // namespace folderhook::watch
