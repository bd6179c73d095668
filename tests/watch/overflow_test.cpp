// ActionBuilder after a queue overflow: what the lost records may hide, and what a rescan's
// difference leaves to the live records. The kernel queues one overflow record at a time: while
// it waits to be read, whatever else is dropped is not announced again, so records read after
// it may miss their sequels until the queue is next read empty (queue_drained).
#include <doctest/doctest.h>

#include "tests/watch/builder_fixture.h"

namespace folderhook::watch::testing {
namespace {

// A write whose close may have been lost settles on its size: one window to see it, another to
// see it unchanged.
void settle_on_size(Harness& h) {
  h.advance(200);
  h.advance(200);
}

// A new file in /r, on disk before the overflow record, whose CREATE and OPEN are read after it.
void new_file_across_overflow(Harness& h, const std::string& name) {
  h.fs.write("/r/" + name, "x");
  h.raw(-1, IN_Q_OVERFLOW);
  h.record("/r", IN_CREATE, name);
  h.record("/r", IN_OPEN, name);
}

FileAction created(const std::string& path) {
  FileAction action;
  action.action = Action::kCreate;
  action.path = path;
  action.type = ObjectType::kFile;
  action.catch_up = true;
  return action;
}

}  // namespace

TEST_CASE("overflow: a write pending at the overflow record settles on its size") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "a", "x");
  h.raw(-1, IN_Q_OVERFLOW);  // its CLOSE_WRITE was among the dropped
  settle_on_size(h);
  CHECK(h.actions() == Lines{"create file /r/a"});
}

TEST_CASE("overflow: a write opened after the overflow record, its close dropped while that "
          "record waited, settles once the queue is read empty") {
  Harness h;
  h.start();
  new_file_across_overflow(h, "b");
  // No close will come, and nothing says so but the empty queue: until then, an open writer.
  CHECK(quiet_after(h, 5000));
  h.builder().queue_drained(h.now());
  settle_on_size(h);
  CHECK(h.actions() == Lines{"create file /r/b"});
  CHECK(quiet_after(h, 5000));
}

TEST_CASE("overflow: a writer that closes after the queue was read empty is one create") {
  Harness h;
  h.start();
  new_file_across_overflow(h, "c");
  h.builder().queue_drained(h.now());
  h.record("/r", IN_CLOSE_WRITE, "c");
  CHECK(h.actions() == Lines{"create file /r/c"});
  CHECK(quiet_after(h, 5000));
}

TEST_CASE("overflow: an empty queue with no overflow before it changes nothing") {
  Harness h;
  h.start();
  new_file_opened(h, "/r", "d", "x");
  h.builder().queue_drained(h.now());
  h.advance(5000);
  CHECK(h.actions().empty());  // still written: named at its close
  h.record("/r", IN_CLOSE_WRITE, "d");
  CHECK(h.actions() == Lines{"create file /r/d"});
}

TEST_CASE("overflow: a rescan's difference about a write still pending is dropped, and the write "
          "is named once, later") {
  Harness h;
  h.start();
  h.fs.write("/r/e", "x");
  h.fs.write("/r/lost", "y");
  h.raw(-1, IN_Q_OVERFLOW);
  h.builder().begin_rescan();
  h.record("/r", IN_CREATE, "e");
  h.record("/r", IN_OPEN, "e");
  // The scan found both: `lost` had no record at all, `e` is the builder's to name.
  bool subtree_dropped = false;
  const auto dropped = h.builder().apply_catch_up({created("/r/e"), created("/r/lost")}, {},
                                                  h.now(), subtree_dropped);
  CHECK(dropped == std::vector<std::string>{"/r/e"});
  CHECK_FALSE(subtree_dropped);
  CHECK(h.actions() == Lines{"create file /r/lost"});
  h.builder().queue_drained(h.now());
  settle_on_size(h);
  CHECK(h.actions() == Lines{"create file /r/e"});
}

TEST_CASE("overflow: open counts whose closes were dropped after the overflow record do not make "
          "a later file a copy") {
  Harness h;
  h.start();
  h.raw(-1, IN_Q_OVERFLOW);
  new_file_opened(h, "/r", "y", "same");
  h.builder().queue_drained(h.now());
  settle_on_size(h);
  CHECK(h.actions() == Lines{"create file /r/y"});
  // A new file with y's content, written and closed while nothing reads y.
  new_file_written(h, "/r", "z", "same");
  CHECK(h.actions() == Lines{"create file /r/z"});
  CHECK(h.fs.hashed.empty());
}

}  // namespace folderhook::watch::testing
