// RenamePairer: MOVED_FROM and MOVED_TO paired by cookie within the pairing window, without a
// kernel: a pair, a move out (no MOVED_TO in time), two moves side by side.
#include "watch/rename_pairer.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/watch/lines.h"

namespace folderhook::watch {
namespace {

using testing::paths_of;

using namespace std::chrono_literals;
const RenamePairer::SteadyTime kStart{};

PendingMove move_from(const std::string& path, RenamePairer::SteadyTime deadline,
                      ActionOrder::SlotId slot) {
  PendingMove move;
  move.path = path;
  move.deadline = deadline;
  move.slot = slot;
  return move;
}

}  // namespace

TEST_CASE("rename pairer: a MOVED_TO takes the MOVED_FROM with its cookie") {
  RenamePairer pairer;
  pairer.moved_from(7, move_from("/w/a", kStart + 100ms, 1));
  CHECK_FALSE(pairer.moved_to(8));  // another cookie: moved in from outside
  const auto paired = pairer.moved_to(7);
  REQUIRE(paired);
  CHECK(paired->path == "/w/a");
  CHECK_FALSE(pairer.moved_to(7));  // taken
  CHECK_FALSE(pairer.next_deadline());
  CHECK(pairer.expire(kStart + 1s).empty());
}

TEST_CASE("rename pairer: a move with no MOVED_TO within the window expires, not before") {
  RenamePairer pairer;
  pairer.moved_from(7, move_from("/w/a", kStart + 100ms, 1));
  CHECK(pairer.next_deadline() == kStart + 100ms);
  CHECK(pairer.expire(kStart + 99ms).empty());
  CHECK(paths_of(pairer.expire(kStart + 100ms)) == std::vector<std::string>{"/w/a"});
  CHECK_FALSE(pairer.moved_to(7));  // too late: a move in from outside
  CHECK_FALSE(pairer.next_deadline());
}

TEST_CASE(
    "rename pairer: moves side by side pair by cookie and expire in the order they happened") {
  RenamePairer pairer;
  // Cookies do not follow the order of the moves; slots do (the windows end together here).
  pairer.moved_from(9, move_from("/w/first", kStart + 100ms, 1));
  pairer.moved_from(3, move_from("/w/second", kStart + 100ms, 2));
  pairer.moved_from(5, move_from("/w/third", kStart + 100ms, 3));
  const auto paired = pairer.moved_to(3);
  REQUIRE(paired);
  CHECK(paired->path == "/w/second");
  CHECK(paths_of(pairer.expire(kStart + 200ms)) ==
        std::vector<std::string>{"/w/first", "/w/third"});
}

TEST_CASE("rename pairer: a paired move leaves no deadline behind") {
  RenamePairer pairer;
  pairer.moved_from(1, move_from("/w/a", kStart + 100ms, 1));
  pairer.moved_from(2, move_from("/w/b", kStart + 300ms, 2));
  REQUIRE(pairer.moved_to(1));
  CHECK(pairer.next_deadline() == kStart + 300ms);  // not the paired one's 100 ms
}

TEST_CASE("rename pairer: the moves out of a forgotten folder are handed back") {
  RenamePairer pairer;
  pairer.moved_from(1, move_from("/gone/a", kStart + 100ms, 1));
  pairer.moved_from(2, move_from("/kept/b", kStart + 100ms, 2));
  const auto forgotten =
      pairer.forget_if([](const std::string& path) { return path.starts_with("/gone/"); });
  CHECK(paths_of(forgotten) == std::vector<std::string>{"/gone/a"});
  CHECK(pairer.begin()->second.path == "/kept/b");
  CHECK(paths_of(pairer.expire(kStart + 1s)) == std::vector<std::string>{"/kept/b"});
}

}  // namespace folderhook::watch
