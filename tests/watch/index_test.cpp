// The catch-up diff and the scan: pure functions over an index and a fake file system.
#include "watch/index.h"

#include <doctest/doctest.h>

#include "tests/watch/fake_file_system.h"
#include "tests/watch/index_model.h"

namespace folderhook::watch {
namespace {

using Lines = std::vector<std::string>;
const auto kAt = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

IndexEntry file(uint64_t ino, uint64_t size = 1, int64_t mtime = 100, uint32_t uid = 1000) {
  return IndexEntry{ObjectType::kFile, FileMeta{1, ino, size, mtime, 0, uid}};
}
IndexEntry dir(uint64_t ino, int64_t mtime = 100) {
  return IndexEntry{ObjectType::kDirectory, FileMeta{1, ino, 4096, mtime, 0, 1000}};
}

}  // namespace

TEST_CASE("catch-up: nothing changed reports nothing") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}};
  const CatchUp c = diff_index(before, before, kAt);
  CHECK(c.actions.empty());
  CHECK(c.refreshed.empty());
}

TEST_CASE("catch-up: new, changed and missing entries are create, update and destroy") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}, {"/r/b", file(3)}, {"/r/c", file(4)}};
  const Index now{{"/r", dir(1, 200)},
                  {"/r/a", file(2, 5)},         // grew
                  {"/r/b", file(3, 1, 150)},    // rewritten, same size
                  {"/r/d", file(5)}};           // new; c is gone
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"destroy file /r/c", "update file /r/a", "update file /r/b",
                          "create file /r/d"});
  for (const FileAction& a : c.actions) {
    CHECK(a.catch_up);
    CHECK(a.at == kAt);
  }
  // The directory's new mtime is recorded without being reported.
  REQUIRE(c.refreshed.size() == 1);
  CHECK(c.refreshed[0].first == "/r");
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a file replaced under its name (atomic save) is an update") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}};
  const Index now{{"/r", dir(1)}, {"/r/a", file(9)}};
  CHECK(catch_up_lines(diff_index(before, now, kAt)) == Lines{"update file /r/a"});
}

TEST_CASE("catch-up: the same inode, size and mtime at another path is a move") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}};
  const Index now{{"/r", dir(1)}, {"/r/b", file(2)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"move file /r/a -> /r/b"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a recycled inode with other content is destroy and create") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2, 1, 100)}};
  const Index now{{"/r", dir(1)}, {"/r/b", file(2, 7, 300)}};
  CHECK(catch_up_lines(diff_index(before, now, kAt)) == Lines{"destroy file /r/a", "create file /r/b"});
}

TEST_CASE("catch-up: a directory moved with its contents is one move") {
  const Index before{{"/r", dir(1)}, {"/r/d", dir(2)}, {"/r/d/x", file(3)}, {"/r/d/s", dir(4)},
                     {"/r/d/s/y", file(5)}, {"/r/e", dir(6)}};
  const Index now{{"/r", dir(1)}, {"/r/e", dir(6)}, {"/r/e/d2", dir(2)}, {"/r/e/d2/x", file(3)},
                  {"/r/e/d2/s", dir(4)}, {"/r/e/d2/s/y", file(5)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"move directory /r/d -> /r/e/d2"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a moved directory whose files were rewritten reports both") {
  // Rewriting a file in place leaves its directory's mtime alone.
  const Index before{{"/r", dir(1)}, {"/r/d", dir(2)}, {"/r/d/x", file(3)}};
  const Index now{{"/r", dir(1)}, {"/r/e", dir(2)}, {"/r/e/x", file(3, 9, 500)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"move directory /r/d -> /r/e", "update file /r/e/x"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a recycled directory inode (rm -rf d, mkdir e) is destroy and create") {
  const Index before{{"/r", dir(1)}, {"/r/d", dir(2, 100)}, {"/r/d/f", file(3, 1, 100)}};
  const Index now{{"/r", dir(1)}, {"/r/e", dir(2, 900)}, {"/r/e/f", file(3, 1, 900)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"destroy file /r/d/f", "destroy directory /r/d",
                          "create directory /r/e", "create file /r/e/f"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: creates are parents first, destroys deepest first") {
  const Index before{{"/r", dir(1)}, {"/r/old", dir(2)}, {"/r/old/s", dir(3)},
                     {"/r/old/s/f", file(4)}};
  const Index now{{"/r", dir(1)}, {"/r/new", dir(12)}, {"/r/new/s", dir(13)},
                  {"/r/new/s/f", file(14)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"destroy file /r/old/s/f", "destroy directory /r/old/s",
                          "destroy directory /r/old", "create directory /r/new",
                          "create directory /r/new/s", "create file /r/new/s/f"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a chain of renames (mv b c, then mv a b) is two moves, in a safe order") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}, {"/r/b", file(3)}};
  const Index now{{"/r", dir(1)}, {"/r/b", file(2)}, {"/r/c", file(3)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"move file /r/b -> /r/c", "move file /r/a -> /r/b"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a hard link added is a create, not a move") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}};
  const Index now{{"/r", dir(1)}, {"/r/a", file(2)}, {"/r/h", file(2)}};
  CHECK(catch_up_lines(diff_index(before, now, kAt)) == Lines{"create file /r/h"});
}

TEST_CASE("catch-up: a path that became a directory is destroyed and created") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}};
  const Index now{{"/r", dir(1)}, {"/r/a", dir(5)}, {"/r/a/f", file(6)}};
  const CatchUp c = diff_index(before, now, kAt);
  CHECK(catch_up_lines(c) == Lines{"destroy file /r/a", "create directory /r/a", "create file /r/a/f"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a destroy carries the owner last seen") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2, 1, 100, 1001)}};
  const Index now{{"/r", dir(1)}};
  const CatchUp c = diff_index(before, now, kAt);
  REQUIRE(c.actions.size() == 1);
  CHECK(c.actions[0].meta.uid == 1001);
}

TEST_CASE("catch-up: a folder never indexed is recorded, not reported, unless asked") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}, {"/gone/x", file(8)}};
  const Index now{{"/r", dir(1)}, {"/r/a", file(2)}, {"/s", dir(3)}, {"/s/f", file(4)}};
  const std::vector<std::string> roots{"/r", "/s"};
  // Entries outside the scanned roots (a folder no longer in the rules) are left alone.
  const CatchUp built = catch_up(before, now, roots, {"/r"}, false, kAt);
  CHECK(built.actions.empty());
  CHECK(built.refreshed.size() == 2);
  const CatchUp reported = catch_up(before, now, roots, {"/r"}, true, kAt);
  CHECK(catch_up_lines(reported) == Lines{"create file /s/f"});
}

TEST_CASE("catch-up: folders seen for the first time are recorded entry by entry, roots first") {
  const Index now{{"/r", dir(1)}, {"/r/a", file(2)}, {"/r/a-b", dir(5)}, {"/r/a/x", file(6)},
                  {"/s", dir(3)}, {"/s/f", file(4)}};
  const CatchUp c = catch_up(Index{{"/elsewhere", file(9)}}, now, {"/s", "/r"}, {}, false, kAt);
  CHECK(c.actions.empty());
  std::vector<std::string> paths;
  for (const auto& [path, entry] : c.refreshed) {
    paths.push_back(path);
    CHECK(entry == now.at(path));
  }
  CHECK(paths == Lines{"/s", "/s/f", "/r", "/r/a", "/r/a-b", "/r/a/x"});
  check_catch_up_converges(Index{}, now, c);
  // Something already known of them: the full diff, which reports nothing more here either.
  const CatchUp known = catch_up(Index{{"/r/a", file(2)}}, now, {"/s", "/r"}, {}, false, kAt);
  CHECK(known.actions.empty());
  CHECK(known.refreshed.size() == now.size());
}

TEST_CASE("catch-up: rows of a folder never indexed (a first start killed mid-walk) tell nothing") {
  // /s was half stored by a first start killed mid-walk: /s/gone has gone since, /s/f is older.
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}, {"/s", dir(3)}, {"/s/gone", file(7)},
                     {"/s/f", file(4, 9)}};
  const Index now{{"/r", dir(1)}, {"/r/a", file(2)}, {"/s", dir(3)}, {"/s/f", file(4)},
                  {"/s/new", file(5)}};
  const std::vector<std::string> roots{"/r", "/s"};
  const CatchUp built = catch_up(before, now, roots, {"/r"}, false, kAt);
  CHECK(built.actions.empty());  // no destroy of /s/gone, no update of /s/f
  CHECK(built.refreshed.size() == 3);  // /s as it is now
  // Asked to report a folder never indexed: all of it is new, whatever rows it had.
  const CatchUp reported = catch_up(before, now, roots, {"/r"}, true, kAt);
  CHECK(catch_up_lines(reported) == Lines{"create file /s/f", "create file /s/new"});
}

TEST_CASE("catch-up: a watched folder that vanished reports everything in it destroyed") {
  const Index before{{"/r", dir(1)}, {"/r/a", file(2)}};
  const CatchUp c = catch_up(before, Index{}, {"/r"}, {"/r"}, false, kAt);
  CHECK(catch_up_lines(c) == Lines{"destroy file /r/a", "destroy directory /r"});
}

TEST_CASE("index: subtree moves and erases leave look-alike siblings alone") {
  Index index{{"/r/a", dir(1)}, {"/r/a/x", file(2)}, {"/r/a-b", file(3)}, {"/r/a0", file(4)}};
  move_tree(index, "/r/a", "/r/z");
  CHECK(index == Index{{"/r/z", dir(1)}, {"/r/z/x", file(2)}, {"/r/a-b", file(3)},
                       {"/r/a0", file(4)}});
  erase_tree(index, "/r/z");
  CHECK(index == Index{{"/r/a-b", file(3)}, {"/r/a0", file(4)}});
}

TEST_CASE("scan: every object with its metadata, ignored paths left out") {
  testing::FakeFileSystem fs;
  fs.mkdir("/r");
  fs.mkdir("/r/d");
  fs.write("/r/d/f", "abc");
  fs.write("/r/state/outbox.db", "x");
  ScanProgress progress;
  std::atomic<bool> cancel{false};
  const auto scan = scan_tree(fs, {"/r"}, {"/r/state"}, Index{}, kAt, progress, cancel);
  REQUIRE(scan);
  Lines paths;
  for (const auto& [path, entry] : *scan) paths.push_back(path);
  CHECK(paths == Lines{"/r", "/r/d", "/r/d/f"});
  CHECK(scan->at("/r/d/f").meta.size == 3);
  CHECK(progress.entries.load() == 2);
  cancel = true;
  CHECK_FALSE(scan_tree(fs, {"/r"}, {}, Index{}, kAt, progress, cancel));
}

TEST_CASE("scan: a directory unchanged since a trusted scan is not listed again") {
  testing::FakeFileSystem fs;
  fs.mkdir("/r");
  fs.write("/r/f", "1");
  const int64_t old_ns = 1'000'000'000'000'000'000;  // years before kAt: trusted
  fs.set_times("/r", old_ns, old_ns);
  ScanProgress progress;
  std::atomic<bool> cancel{false};
  const auto first = scan_tree(fs, {"/r"}, {}, Index{}, kAt, progress, cancel);
  REQUIRE(first);
  CHECK(first->at("/r").meta.ctime_ns == old_ns);
  // An entry the fake adds without touching the directory's times: only a listing finds it,
  // so not finding it proves the listing was skipped.
  fs.write("/r/g", "2");
  auto again = scan_tree(fs, {"/r"}, {}, *first, kAt, progress, cancel);
  CHECK(progress.listings_skipped.load() == 1);
  CHECK(again->count("/r/g") == 0);
  // A changed ctime (as any entry change makes it) means listing again.
  fs.set_times("/r", old_ns, old_ns + 1);
  again = scan_tree(fs, {"/r"}, {}, *first, kAt, progress, cancel);
  CHECK(again->count("/r/g") == 1);
  // A ctime too recent to trust when recorded is never trusted.
  fs.set_times("/r", old_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 kAt.time_since_epoch()).count());
  const auto recent = scan_tree(fs, {"/r"}, {}, Index{}, kAt, progress, cancel);
  CHECK(recent->at("/r").meta.ctime_ns == 0);
}

TEST_CASE("meta: a directory's recent ctime is not trusted, an old one is") {
  FileInfo info;
  info.kind = FileKind::kDirectory;
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             kAt.time_since_epoch()).count();
  info.ctime_ns = now_ns - 1'000'000'000;
  CHECK(meta_of(info, kAt).ctime_ns == 0);
  info.ctime_ns = now_ns - 3'000'000'000;
  CHECK(meta_of(info, kAt).ctime_ns == info.ctime_ns);
  info.kind = FileKind::kRegular;
  info.ctime_ns = now_ns;
  CHECK(meta_of(info, kAt).ctime_ns == now_ns);
}

TEST_CASE("scan log: the index of what was added, sorted, a path added twice keeping its last") {
  ScanLog log;
  log.add("/r", dir(1));
  log.add("/r/b", file(3));
  log.add("/r/a", dir(2));
  log.add("/r/a/x", file(4));
  log.add("/r/b", file(5));
  CHECK(log.size() == 5);
  const Index index = log.take_index();
  CHECK(index == Index{{"/r", dir(1)}, {"/r/a", dir(2)}, {"/r/a/x", file(4)}, {"/r/b", file(5)}});
  CHECK(log.size() == 0);
}

TEST_CASE("scan log: its entries come back whole, in the order added") {
  ScanLog log;
  const std::string long_name = "/r/" + std::string(300, 'n');
  log.add("/r", dir(1));
  log.add(long_name, file(2));
  log.add("/r/a", file(3));
  std::vector<std::pair<std::string, IndexEntry>> entries;
  log.for_each([&](std::string_view path, const IndexEntry& entry) {
    entries.emplace_back(path, entry);
  });
  REQUIRE(entries.size() == 3);
  CHECK(entries[0] == std::pair<std::string, IndexEntry>{"/r", dir(1)});
  CHECK(entries[1] == std::pair<std::string, IndexEntry>{long_name, file(2)});
  CHECK(entries[2] == std::pair<std::string, IndexEntry>{"/r/a", file(3)});
}

}  // namespace folderhook::watch
