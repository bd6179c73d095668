#include "watch/fanotify_record.h"

#include <sys/fanotify.h>
#include <sys/inotify.h>

#include <doctest/doctest.h>

namespace folderhook::watch {
namespace {

// An fsid and a struct file_handle of 8 bytes, as ext4 reports them.
std::string key(char tag) {
  std::string k(8, 'F');                      // fsid
  k += std::string("\x08\0\0\0\x01\0\0\0", 8);  // handle_bytes = 8, handle_type = 1
  k += std::string(8, tag);
  return k;
}

}  // namespace

TEST_CASE("fanotify records: a rename decodes with both names and the child's handle") {
  FanotifyEvent rename{FAN_RENAME | FAN_ONDIR, 77,
                       {{FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, key('a'), "old name"},
                        {FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, key('b'), "new"},
                        {FAN_EVENT_INFO_TYPE_FID, key('c'), ""}}};
  FanotifyEvent create{FAN_CREATE, 78, {{FAN_EVENT_INFO_TYPE_DFID_NAME, key('a'), "f"}}};
  const auto events =
      decode_fanotify_events(encode_fanotify_event(rename) + encode_fanotify_event(create));
  REQUIRE(events.size() == 2);
  CHECK(events[0].mask == (FAN_RENAME | FAN_ONDIR));
  CHECK(events[0].pid == 77);
  REQUIRE(events[0].fids.size() == 3);
  CHECK(events[0].fids[0].name == "old name");
  CHECK(events[0].fids[0].key == key('a'));
  CHECK(events[0].fids[1].name == "new");
  CHECK(events[0].fids[2].key == key('c'));
  CHECK(events[0].fids[2].name.empty());
  CHECK(events[1].fids[0].name == "f");
  CHECK(fsid_of_key(events[1].fids[0].key) == std::string(8, 'F'));
  CHECK(handle_of_key(events[1].fids[0].key).size() == 16);
}

TEST_CASE("fanotify records: a truncated event ends the decoding without reading past the end") {
  const std::string bytes =
      encode_fanotify_event({FAN_CREATE, 1, {{FAN_EVENT_INFO_TYPE_DFID_NAME, key('a'), "f"}}});
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    CHECK(decode_fanotify_events(bytes.substr(0, cut)).empty());
  }
  CHECK(decode_fanotify_events(bytes).size() == 1);
}

TEST_CASE("fanotify records: an overflow has no records and is an overflow record") {
  const auto events = decode_fanotify_events(encode_fanotify_event({FAN_Q_OVERFLOW, 0, {}}));
  REQUIRE(events.size() == 1);
  CHECK(events[0].fids.empty());
  CHECK(fanotify_kinds_of(events[0].mask) == RecordKinds{RecordKind::kOverflow});
}

TEST_CASE("fanotify records: each mask, merged or not, translates into the builder's kinds") {
  using K = RecordKind;
  struct Case {
    uint64_t mask;
    RecordKinds kinds;
  };
  const Case cases[] = {
      {FAN_CREATE, {K::kCreated}},
      {FAN_OPEN, {K::kOpened}},
      {FAN_MODIFY, {K::kModified}},
      {FAN_CLOSE_WRITE, {K::kClosedWrite}},
      {FAN_CLOSE_NOWRITE, {K::kClosedRead}},
      {FAN_DELETE, {K::kDeleted}},
      {FAN_MOVED_FROM, {K::kMovedFrom}},
      {FAN_MOVED_TO, {K::kMovedTo}},
      {FAN_ATTRIB, {K::kAttrib}},
      {FAN_Q_OVERFLOW, {K::kOverflow}},
      {FAN_CREATE | FAN_OPEN | FAN_CLOSE_WRITE, {K::kCreated, K::kOpened, K::kClosedWrite}},
      {FAN_OPEN | FAN_CLOSE_NOWRITE, {K::kOpened, K::kClosedRead}},
      // FAN_ONDIR is Record::is_dir, not a kind; FAN_RENAME is split by the engine by its names.
      {FAN_DELETE | FAN_ONDIR, {K::kDeleted}},
      {FAN_ONDIR, {}},
      {FAN_RENAME, {}},
      {FAN_ACCESS, {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.mask);
    CHECK(describe(fanotify_kinds_of(c.mask)) == describe(c.kinds));
  }
}

TEST_CASE("fanotify held records: the agent's own and directory listings are dropped, the rest kept in order") {
  HeldFanotifyEvents held(/*self=*/10, /*limit=*/100);
  const auto in_a = [](const char* name) {
    return std::vector<FanotifyFid>{{FAN_EVENT_INFO_TYPE_DFID_NAME, key('a'), name}};
  };
  held.add_read(encode_fanotify_event({FAN_OPEN | FAN_ONDIR, 10, in_a(".")}) +
                encode_fanotify_event({FAN_CREATE, 20, in_a("x")}) +
                encode_fanotify_event({FAN_CLOSE_NOWRITE | FAN_ONDIR, 10, in_a(".")}) +
                encode_fanotify_event({FAN_OPEN | FAN_ONDIR, 20, in_a(".")}) +
                encode_fanotify_event({FAN_CREATE | FAN_ONDIR, 20, in_a("d")}));
  held.add_read(encode_fanotify_event({FAN_OPEN, 10, in_a("mine")}) +
                encode_fanotify_event({FAN_CLOSE_NOWRITE, 10, in_a("mine")}));
  held.add_read(encode_fanotify_event({FAN_CLOSE_WRITE, 20, in_a("x")}) +
                encode_fanotify_event({FAN_OPEN, 30, in_a("y")}));
  CHECK(held.count() == 4);
  const std::vector<std::string> reads = held.take();
  REQUIRE(reads.size() == 2);  // a read that kept nothing leaves nothing
  const auto first = decode_fanotify_events(reads[0]);
  REQUIRE(first.size() == 2);
  CHECK(first[0].mask == FAN_CREATE);
  CHECK(first[0].fids[0].name == "x");
  CHECK(first[1].mask == (FAN_CREATE | FAN_ONDIR));
  const auto second = decode_fanotify_events(reads[1]);
  REQUIRE(second.size() == 2);
  CHECK(second[0].mask == FAN_CLOSE_WRITE);
  CHECK(second[1].pid == 30);
  CHECK(held.take().empty());
  CHECK(held.count() == 0);
}

TEST_CASE("fanotify held records: past the limit one overflow stands for the rest, and a kernel overflow is kept") {
  HeldFanotifyEvents held(/*self=*/10, /*limit=*/2);
  std::string bytes;
  for (int i = 0; i < 5; ++i) {
    bytes += encode_fanotify_event({FAN_CREATE, 20 + i, {{FAN_EVENT_INFO_TYPE_DFID_NAME, key('a'), "f"}}});
  }
  held.add_read(bytes);
  held.add_read(encode_fanotify_event({FAN_DELETE, 40, {{FAN_EVENT_INFO_TYPE_DFID_NAME, key('a'), "f"}}}));
  std::vector<FanotifyEvent> events;
  for (const std::string& read : held.take()) {
    for (FanotifyEvent& event : decode_fanotify_events(read)) events.push_back(std::move(event));
  }
  REQUIRE(events.size() == 3);
  CHECK(events[0].pid == 20);
  CHECK(events[1].pid == 21);
  CHECK(events[2].mask == FAN_Q_OVERFLOW);

  HeldFanotifyEvents fresh(/*self=*/10, /*limit=*/2);
  fresh.add_read(encode_fanotify_event({FAN_Q_OVERFLOW, 10, {}}));
  const auto kept = fresh.take();
  REQUIRE(kept.size() == 1);
  CHECK(decode_fanotify_events(kept[0]).at(0).mask == FAN_Q_OVERFLOW);
}

}  // namespace folderhook::watch
