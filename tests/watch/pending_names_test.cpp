// PendingNames without a kernel or a FileSystem: deadlines come due in order and stale ones are
// skipped, pending items follow a moved directory, which names are temp names, and whether a
// closed write is named now or waits.
#include "watch/pending_names.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "watch/paths.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

using namespace std::chrono_literals;
const PendingNames::SteadyTime kT{};

// Every path due at `now`, in the order due_write() gives them.
std::vector<std::string> writes_due_at(PendingNames& pending, PendingNames::SteadyTime now) {
  std::vector<std::string> due;
  while (const auto path = pending.due_write(now)) due.push_back(*path);
  return due;
}

std::vector<std::string> reads_due_at(PendingNames& pending, PendingNames::SteadyTime now) {
  std::vector<std::string> due;
  while (const auto path = pending.due_read(now)) due.push_back(*path);
  return due;
}

void put_scheduled(PendingNames& pending, const std::string& path,
                   PendingNames::SteadyTime deadline) {
  pending.schedule_write(path, pending.put_write(path, PendingWrite{}), deadline);
}

PendingRead read_until(PendingNames::SteadyTime deadline) {
  PendingRead read;
  read.deadline = deadline;
  return read;
}

PendingWrite closed_write() {
  PendingWrite write;
  write.opened = true;
  write.closed = true;
  return write;
}

// A look at the file that counts how often it was asked.
struct CountingLook {
  std::optional<FileInfo> info;
  int calls = 0;
  const std::optional<FileInfo>& operator()() {
    ++calls;
    return info;
  }
};

FileInfo file_of_size(uint64_t size) {
  FileInfo info;
  info.size = size;
  return info;
}

}  // namespace

TEST_CASE("pending names: writes come due in the order of their deadlines, not before") {
  PendingNames pending;
  put_scheduled(pending, "/w/late", kT + 300ms);
  put_scheduled(pending, "/w/first", kT + 100ms);
  put_scheduled(pending, "/w/second", kT + 200ms);
  CHECK(pending.next_deadline() == kT + 100ms);
  CHECK(writes_due_at(pending, kT + 99ms).empty());
  CHECK(writes_due_at(pending, kT + 250ms) == std::vector<std::string>{"/w/first", "/w/second"});
  // Taken off the queue, not out of the map: the caller names or reschedules them.
  CHECK(pending.has_write("/w/first"));
  CHECK(pending.next_deadline() == kT + 300ms);
  CHECK(writes_due_at(pending, kT + 300ms) == std::vector<std::string>{"/w/late"});
  CHECK_FALSE(pending.next_deadline());
}

namespace {

// Three writes whose first queue entries went stale: one given a later deadline (kT + 400ms),
// one taken out, one replaced by a write with no deadline (a writer holds it); and a read taken
// out. Only "/w/moved" at kT + 400ms is live.
void leave_stale_entries(PendingNames& pending) {
  put_scheduled(pending, "/w/moved", kT + 100ms);
  pending.schedule_write("/w/moved", *pending.write("/w/moved"), kT + 400ms);
  put_scheduled(pending, "/w/taken", kT + 150ms);
  REQUIRE(pending.take_write("/w/taken"));
  put_scheduled(pending, "/w/replaced", kT + 200ms);
  pending.put_write("/w/replaced", PendingWrite{});
  pending.hold_read("/w/read", read_until(kT + 50ms));
  REQUIRE(pending.take_read("/w/read"));
}

}  // namespace

TEST_CASE("pending names: a deadline moved, a write taken out or replaced leaves stale entries") {
  PendingNames pending;
  leave_stale_entries(pending);
  // Asked before next_deadline(), which drops stale fronts itself.
  CHECK(writes_due_at(pending, kT + 300ms).empty());
  CHECK(reads_due_at(pending, kT + 300ms).empty());
  CHECK(writes_due_at(pending, kT + 400ms) == std::vector<std::string>{"/w/moved"});
  CHECK_FALSE(pending.take_write("/w/taken"));
}

TEST_CASE("pending names: the next deadline passes over stale entries, so the loop is not woken") {
  PendingNames pending;
  leave_stale_entries(pending);
  CHECK(pending.next_deadline() == kT + 400ms);
}

TEST_CASE("pending names: a held read comes due at its window's end, or later when rescheduled") {
  PendingNames pending;
  pending.hold_read("/w/src", read_until(kT + 100ms));
  pending.hold_read("/w/other", read_until(kT + 120ms));
  pending.schedule_read("/w/src", *pending.read("/w/src"), kT + 300ms);  // a copy is awaited
  CHECK(pending.next_deadline() == kT + 120ms);
  CHECK(reads_due_at(pending, kT + 200ms) == std::vector<std::string>{"/w/other"});
  CHECK(pending.take_read("/w/other"));
  CHECK(pending.next_deadline() == kT + 300ms);
  CHECK(reads_due_at(pending, kT + 300ms) == std::vector<std::string>{"/w/src"});
  CHECK(pending.read("/w/src") != nullptr);
}

TEST_CASE("pending names: writes and reads beneath a moved directory follow it, with deadlines") {
  PendingNames pending;
  put_scheduled(pending, "/w/d/a", kT + 100ms);
  put_scheduled(pending, "/w/d-x", kT + 100ms);  // sorts among them, but is not beneath /w/d
  pending.put_write("/w/d/sub/held", PendingWrite{});  // open: no deadline to carry
  pending.hold_read("/w/d/sub/r", read_until(kT + 150ms));
  pending.rebase("/w/d", "/w/e");
  CHECK(pending.writes_within("/w/e") == std::vector<std::string>{"/w/e/a", "/w/e/sub/held"});
  CHECK(pending.reads_within("/w/e") == std::vector<std::string>{"/w/e/sub/r"});
  CHECK(pending.writes_within("/w/d").empty());
  CHECK(pending.write("/w/d-x") != nullptr);
  // The entries queued under the old paths are stale; the new paths come due at the same time.
  CHECK(writes_due_at(pending, kT + 100ms) == std::vector<std::string>{"/w/d-x", "/w/e/a"});
  CHECK(reads_due_at(pending, kT + 150ms) == std::vector<std::string>{"/w/e/sub/r"});
  CHECK_FALSE(pending.next_deadline());
}

TEST_CASE("pending names: forget_if drops writes and reads, and their deadlines go stale") {
  PendingNames pending;
  put_scheduled(pending, "/w/gone/a", kT + 100ms);
  put_scheduled(pending, "/w/kept", kT + 200ms);
  pending.hold_read("/w/gone/r", read_until(kT + 50ms));
  pending.forget_if([](const std::string& path) { return path_is_within(path, "/w/gone"); });
  CHECK(pending.next_deadline() == kT + 200ms);
  CHECK(reads_due_at(pending, kT + 1s).empty());
  CHECK(writes_due_at(pending, kT + 1s) == std::vector<std::string>{"/w/kept"});
}

TEST_CASE("pending names: a temp name is matched by the globs of the deepest root holding it") {
  const std::vector<RootOptions> roots = {
      {"/w", {"*.part", ".~*"}, false},
      {"/w/plain", {}, false},  // nested, with no temp names of its own
  };
  struct Row {
    const char* path;
    bool temp;
  };
  for (const Row& row : std::vector<Row>{
           {"/w/up.bin.part", true},
           {"/w/sub/.~lock", true},        // any depth: the glob is on the file name
           {"/w/up.bin", false},
           {"/w/dir.part/up.bin", false},  // a directory's name does not count
           {"/w/plain/up.bin.part", false},
           {"/elsewhere/up.bin.part", false},
       }) {
    CAPTURE(row.path);
    CHECK(is_temp_name(row.path, roots) == row.temp);
  }
}

TEST_CASE("pending names: a closed write is named at its close unless something may still change") {
  using AtClose = PendingNames::AtClose;
  CountingLook exists{file_of_size(3)};
  CHECK(PendingNames::at_close(closed_write(), false, exists) == AtClose::kName);
  CHECK(exists.calls == 1);

  PendingWrite temp = closed_write();
  temp.temp = true;
  PendingWrite open = closed_write();
  open.closed = false;
  CountingLook unused{file_of_size(3)};
  CHECK(PendingNames::at_close(temp, false, unused) == AtClose::kTempName);
  CHECK(PendingNames::at_close(open, false, unused) == AtClose::kNotClosed);
  // Another descriptor may be a writer: waits, without a stat.
  CHECK(PendingNames::at_close(closed_write(), true, unused) == AtClose::kOtherOpen);
  CHECK(unused.calls == 0);

  CountingLook gone{};
  CHECK(PendingNames::at_close(closed_write(), false, gone) == AtClose::kGone);
  CHECK(gone.calls == 1);
}

TEST_CASE("pending names: at its deadline a write is named, settles again, waits, or is dropped") {
  using AtDeadline = PendingNames::AtDeadline;
  PendingWrite temp;
  temp.temp = true;
  CountingLook unused{file_of_size(1)};
  CHECK(PendingNames::at_deadline(temp, unused) == AtDeadline::kWaitRename);
  CHECK(unused.calls == 0);

  CountingLook gone{};
  CHECK(PendingNames::at_deadline(closed_write(), gone) == AtDeadline::kGone);

  PendingWrite scanned;  // found by a scan, its writer unseen
  scanned.from_scan = true;
  scanned.size_seen = 10;
  CountingLook grown{file_of_size(20)};
  CountingLook same{file_of_size(10)};
  CHECK(PendingNames::at_deadline(scanned, grown) == AtDeadline::kStillGrowing);
  CHECK(PendingNames::at_deadline(scanned, same) == AtDeadline::kName);
  scanned.closed = true;  // its close was seen: complete whatever its size
  CHECK(PendingNames::at_deadline(scanned, grown) == AtDeadline::kName);
  PendingWrite link;  // no OPEN, no CLOSE: named when its window ends
  CHECK(PendingNames::at_deadline(link, grown) == AtDeadline::kName);
}

TEST_CASE("pending names: a write flushed by a delete or a move is reported only if complete") {
  PendingWrite writing;
  writing.opened = true;  // new, its writer has not closed it
  PendingWrite temp = closed_write();
  temp.temp = true;
  PendingWrite scanned = writing;
  scanned.from_scan = true;
  PendingWrite update = writing;
  update.is_new = false;
  CHECK_FALSE(PendingNames::complete_when_flushed(writing));
  CHECK_FALSE(PendingNames::complete_when_flushed(temp));
  CHECK(PendingNames::complete_when_flushed(closed_write()));
  CHECK(PendingNames::complete_when_flushed(scanned));
  CHECK(PendingNames::complete_when_flushed(update));
  CHECK(PendingNames::complete_when_flushed(PendingWrite{}));  // a link or a special file
}

TEST_CASE("pending names: after lost records, writes waiting for a close settle on their size") {
  PendingNames pending;
  pending.put_write("/w/open", PendingWrite{});
  PendingWrite temp;
  temp.temp = true;
  pending.put_write("/w/up.part", temp);
  put_scheduled(pending, "/w/settling", kT + 500ms);
  pending.settle_unclosed(kT + 200ms);
  CHECK(pending.write("/w/open")->from_scan);
  CHECK(pending.write("/w/open")->deadline == kT + 200ms);
  CHECK_FALSE(pending.write("/w/up.part")->deadline);  // still waits for its rename
  CHECK(pending.write("/w/settling")->deadline == kT + 500ms);
  CHECK(writes_due_at(pending, kT + 200ms) == std::vector<std::string>{"/w/open"});
}

TEST_CASE("pending names: an unlinked name finds its link among the unopened creates, looked once") {
  PendingNames pending;
  CHECK_FALSE(pending.may_hold_link());  // no create without an OPEN yet
  pending.put_write("/w/link", PendingWrite{});
  pending.put_write("/w/written", closed_write());
  pending.created_unopened();
  REQUIRE(pending.may_hold_link());
  int looks = 0;
  const auto ino_of = [&](const std::string& path) -> uint32_t {
    ++looks;
    return path == "/w/link" ? 42 : 7;
  };
  CHECK_FALSE(pending.find_link("/w/old", 7, ino_of));  // another inode
  CHECK(pending.find_link("/w/old", 42, ino_of) == "/w/link");
  CHECK(pending.find_link("/w/link", 42, ino_of) == std::nullopt);  // not itself
  CHECK(looks == 1);  // remembered in link_ino
  // Once none is left, a look clears the flag.
  CHECK(pending.take_write("/w/link"));
  CHECK_FALSE(pending.may_hold_link());
  pending.put_write("/w/link2", PendingWrite{});
  CHECK_FALSE(pending.may_hold_link());  // no created_unopened() since
}

}  // namespace folderhook::watch
