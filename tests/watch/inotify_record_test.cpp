#include "watch/inotify_record.h"

#include <sys/inotify.h>

#include <doctest/doctest.h>

namespace folderhook::watch {

TEST_CASE("records decode from the bytes of one read, names without their NUL padding") {
  const std::string bytes = encode_inotify_record({3, IN_CREATE | IN_ISDIR, 0, "dir"}) +
                            encode_inotify_record({4, IN_MOVED_FROM, 77, "a b\n&%"}) +
                            encode_inotify_record({4, IN_DELETE_SELF, 0, ""}) +
                            encode_inotify_record({-1, IN_Q_OVERFLOW, 0, ""});
  const auto records = decode_inotify_records(bytes);
  REQUIRE(records.size() == 4);
  CHECK(records[0].wd == 3);
  CHECK(records[0].mask == (IN_CREATE | IN_ISDIR));
  CHECK(records[0].name == "dir");
  CHECK(records[1].cookie == 77);
  CHECK(records[1].name == "a b\n&%");
  CHECK(records[2].name.empty());
  CHECK(records[3].wd == -1);
  CHECK(describe_mask(records[0].mask) == "CREATE|ISDIR");
}

TEST_CASE("a truncated trailing record is dropped rather than read out of bounds") {
  std::string bytes = encode_inotify_record({1, IN_CREATE, 0, "a"}) +
                      encode_inotify_record({1, IN_CREATE, 0, "long-name"});
  bytes.resize(bytes.size() - 3);
  const auto records = decode_inotify_records(bytes);
  REQUIRE(records.size() == 1);
  CHECK(records[0].name == "a");
  CHECK(decode_inotify_records(bytes.substr(0, 5)).empty());
}

TEST_CASE("inotify records: each mask translates into the builder's kinds") {
  using K = RecordKind;
  struct Case {
    uint32_t mask;
    RecordKinds kinds;
  };
  const Case cases[] = {
      {IN_CREATE, {K::kCreated}},
      {IN_OPEN, {K::kOpened}},
      {IN_MODIFY, {K::kModified}},
      {IN_CLOSE_WRITE, {K::kClosedWrite}},
      {IN_CLOSE_NOWRITE, {K::kClosedRead}},
      {IN_DELETE, {K::kDeleted}},
      {IN_MOVED_FROM, {K::kMovedFrom}},
      {IN_MOVED_TO, {K::kMovedTo}},
      {IN_ATTRIB, {K::kAttrib}},
      {IN_DELETE_SELF, {K::kSelfDeleted}},
      {IN_UNMOUNT, {K::kSelfDeleted}},  // the watched directory is gone either way
      {IN_MOVE_SELF, {K::kSelfMoved}},
      {IN_IGNORED, {K::kWatchRemoved}},
      {IN_Q_OVERFLOW, {K::kOverflow}},
      {IN_UNMOUNT | IN_IGNORED, {K::kSelfDeleted, K::kWatchRemoved}},
      {IN_CREATE | IN_ISDIR, {K::kCreated}},  // IN_ISDIR is Record::is_dir
      {IN_ACCESS, {}},
      {IN_ISDIR, {}},
  };
  for (const Case& c : cases) {
    CAPTURE(describe_mask(c.mask));
    CHECK(describe(inotify_kinds_of(c.mask)) == describe(c.kinds));
  }
}

TEST_CASE("inotify records: a record keeps its watch, name and cookie; ISDIR is is_dir") {
  const Record moved = inotify_record_of({7, IN_MOVED_TO | IN_ISDIR, 42, "d"});
  CHECK(moved.kinds == RecordKinds{RecordKind::kMovedTo});
  CHECK(moved.is_dir);
  CHECK(moved.wd == 7);
  CHECK(moved.name == "d");
  CHECK(moved.cookie == 42);
  CHECK(moved.dir.empty());
  const Record file = inotify_record_of({3, IN_CLOSE_WRITE, 0, "f"});
  CHECK_FALSE(file.is_dir);
  CHECK(file.kinds == RecordKinds{RecordKind::kClosedWrite});
  const Record overflow = inotify_record_of({-1, IN_Q_OVERFLOW, 0, ""});
  CHECK(overflow.kinds == RecordKinds{RecordKind::kOverflow});
  CHECK(overflow.wd == -1);
}

}  // namespace folderhook::watch
