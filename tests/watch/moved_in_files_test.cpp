// MovedInFiles: the close of a file moved in from outside, by a descriptor opened before the
// rename (nginx's WebDAV PUT), names nothing while the content is what its create described.
#include "watch/moved_in_files.h"

#include <doctest/doctest.h>

namespace folderhook::watch {
namespace {

using namespace std::chrono_literals;
const MovedInFiles::SteadyTime kMovedAt{};

}  // namespace

TEST_CASE("moved-in files: a close that changed nothing since the move in adds nothing") {
  MovedInFiles files(5s);
  files.moved_in("/w/p.bin", 10, 111, kMovedAt);
  CHECK(files.close_adds_nothing("/w/p.bin", 10, 111));
  CHECK_FALSE(files.close_adds_nothing("/w/other", 10, 111));  // never moved in
}

TEST_CASE("moved-in files: a close after the content changed is a write, then the new baseline") {
  MovedInFiles files(5s);
  files.moved_in("/w/p.bin", 10, 111, kMovedAt);
  CHECK_FALSE(files.close_adds_nothing("/w/p.bin", 12, 111));  // grew
  CHECK(files.close_adds_nothing("/w/p.bin", 12, 111));        // the same again: nothing new
  CHECK_FALSE(files.close_adds_nothing("/w/p.bin", 12, 222));  // touched
}

TEST_CASE("moved-in files: after an OPEN of the file its close is that opener's write") {
  MovedInFiles files(5s);
  files.moved_in("/w/p.bin", 10, 111, kMovedAt);
  files.opened("/w/p.bin");
  CHECK_FALSE(files.close_adds_nothing("/w/p.bin", 10, 111));
}

TEST_CASE("moved-in files: lost records or the end of the keep time forget them") {
  MovedInFiles files(5s);
  files.moved_in("/w/a", 10, 1, kMovedAt);
  files.moved_in("/w/b", 10, 1, kMovedAt + 2s);
  files.trim(kMovedAt + 5s);  // not past the keep time yet
  CHECK(files.close_adds_nothing("/w/a", 10, 1));
  files.trim(kMovedAt + 5s + 1ms);
  CHECK_FALSE(files.close_adds_nothing("/w/a", 10, 1));
  CHECK(files.close_adds_nothing("/w/b", 10, 1));
  files.forget_all();
  CHECK_FALSE(files.close_adds_nothing("/w/b", 10, 1));
}

}  // namespace folderhook::watch
