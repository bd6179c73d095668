// The catch-up of permissions (`permissions = true`): what diff_index() reports when the recorded
// and the scanned mode, owner, group or ACL of the same object differ, and what a scan records.
#include <doctest/doctest.h>

#include "tests/watch/fake_file_system.h"
#include "tests/watch/index_model.h"
#include "watch/index.h"

namespace folderhook::watch {
namespace index_permissions_test {

const auto kWhen = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

// A file (or directory) whose permissions are known: recorded in a folder that asks.
IndexEntry known(ObjectType type, uint64_t ino, uint32_t mode, uint32_t uid = 1000,
                 uint32_t gid = 100, uint64_t acl = 0, int64_t mtime = 100) {
  IndexEntry entry{type, FileMeta{1, ino, 1, mtime, 0, uid}};
  set_permissions(entry.meta, Permissions{mode, uid, gid, acl});
  return entry;
}
IndexEntry known_file(uint64_t ino, uint32_t mode, uint32_t uid = 1000, uint32_t gid = 100,
                      uint64_t acl = 0, int64_t mtime = 100) {
  return known(ObjectType::kFile, ino, mode, uid, gid, acl, mtime);
}

TEST_CASE("catch-up: a chmod, a chown, a group change and an ACL change are permission updates") {
  const Index before{{"/r/a", known_file(2, 0644)},
                     {"/r/b", known_file(3, 0644)},
                     {"/r/c", known_file(4, 0644)},
                     {"/r/d", known_file(5, 0644)},
                     {"/r/e", known_file(6, 0644)}};
  const Index now{{"/r/a", known_file(2, 0600)},
                  {"/r/b", known_file(3, 0644, 65534)},
                  {"/r/c", known_file(4, 0644, 1000, 65534)},
                  {"/r/d", known_file(5, 0644, 1000, 100, 0xAC1)},
                  {"/r/e", known_file(6, 0644)}};  // unchanged
  const CatchUp c = diff_index(before, now, kWhen);
  CHECK(catch_up_lines(c) == std::vector<std::string>{
                            "update file /r/a permission 0600", "update file /r/b permission 0644",
                            "update file /r/c permission 0644", "update file /r/d permission 0644"});
  REQUIRE(c.actions.size() == 4);
  for (const FileAction& a : c.actions) {
    CHECK(a.catch_up);
    CHECK(a.permission->owner.empty());  // the builder names them
    CHECK(a.meta == now.at(a.path).meta);  // the values after the change, for the index
  }
  CHECK(c.actions[1].meta.uid == 65534);
  CHECK(c.actions[2].meta.gid == 65534);
  CHECK(c.refreshed.empty());
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a touch (new mtime, same permissions) is no permission change") {
  const Index before{{"/r/t", known_file(2, 0640)}};
  const Index now{{"/r/t", known_file(2, 0640, 1000, 100, 0, 200)}};
  const CatchUp c = diff_index(before, now, kWhen);
  CHECK(catch_up_lines(c) == std::vector<std::string>{"update file /r/t"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a rewrite and a chmod of the same file report the update, then the change") {
  const Index before{{"/r/f", known_file(2, 0644)}};
  const Index now{{"/r/f", known_file(2, 0600, 1000, 100, 0, 200)}};
  const CatchUp c = diff_index(before, now, kWhen);
  CHECK(catch_up_lines(c) ==
        std::vector<std::string>{"update file /r/f", "update file /r/f permission 0600"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a file replaced by another inode with other permissions is only an update") {
  const Index before{{"/r/f", known_file(2, 0644)}};
  const Index now{{"/r/f", known_file(9, 0600)}};
  const CatchUp c = diff_index(before, now, kWhen);
  CHECK(catch_up_lines(c) == std::vector<std::string>{"update file /r/f"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: a directory's chmod is a permission update of the directory") {
  const Index before{{"/r/d", known(ObjectType::kDirectory, 2, 0755)}};
  const Index now{{"/r/d", known(ObjectType::kDirectory, 2, 0700, 1000, 100, 0, 300)}};
  const CatchUp c = diff_index(before, now, kWhen);
  CHECK(catch_up_lines(c) == std::vector<std::string>{"update directory /r/d permission 0700"});
  check_catch_up_converges(before, now, c);
}

TEST_CASE("catch-up: permissions unknown on one side are recorded, never reported") {
  IndexEntry unknown = known_file(2, 0644);
  unknown.meta.permissions = false;  // an old row, or a folder that did not ask
  unknown.meta.mode = unknown.meta.gid = 0;
  SUBCASE("recorded before the folder asked") {
    const Index before{{"/r/f", unknown}};
    const Index now{{"/r/f", known_file(2, 0600)}};
    const CatchUp c = diff_index(before, now, kWhen);
    CHECK(c.actions.empty());
    REQUIRE(c.refreshed.size() == 1);
    CHECK(c.refreshed[0].second.meta.permissions);
    check_catch_up_converges(before, now, c);
  }
  SUBCASE("the folder no longer asks") {
    const Index before{{"/r/f", known_file(2, 0600)}};
    const Index now{{"/r/f", unknown}};
    const CatchUp c = diff_index(before, now, kWhen);
    CHECK(c.actions.empty());
    CHECK(c.refreshed.size() == 1);
    check_catch_up_converges(before, now, c);
  }
}

TEST_CASE("scan: permissions are read only beneath the folders that ask for them") {
  testing::FakeFileSystem fs;
  fs.mkdir("/r");
  fs.mkdir("/r/p");
  fs.write("/r/p/f", "abc");
  fs.chmod("/r/p/f", 0600);
  fs.chown("/r/p/f", 1000, 4242);
  fs.write("/r/g", "x");
  ScanProgress progress;
  std::atomic<bool> cancel{false};
  const auto scan = scan_tree(fs, {"/r"}, {}, Index{}, kWhen, progress, cancel, {"/r/p"});
  REQUIRE(scan);
  const FileMeta& f = scan->at("/r/p/f").meta;
  CHECK(f.permissions);
  CHECK(f.mode == 0600);
  CHECK(f.gid == 4242);
  CHECK_FALSE(scan->at("/r/g").meta.permissions);  // another folder's: nothing read
  CHECK_FALSE(scan->at("/r/p").meta.permissions);  // the folder itself is not beneath it
  CHECK_FALSE(scan->at("/r").meta.permissions);

  ScanLog log;
  std::vector<std::string> dirs;
  REQUIRE(record_tree(fs, {"/r"}, {}, kWhen, progress, cancel, log, dirs, {"/r/p"}));
  const Index recorded = log.take_index();
  CHECK(recorded.at("/r/p/f").meta == f);
  CHECK_FALSE(recorded.at("/r/g").meta.permissions);
}

}  // namespace index_permissions_test
}  // namespace folderhook::watch
