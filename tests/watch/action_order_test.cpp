// ActionOrder: actions leave in the order things happened, a move's slot holding back what
// follows it until the move is known.
#include "watch/action_order.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/watch/lines.h"

namespace folderhook::watch {
namespace {

using testing::paths_of;

FileAction action_on(const std::string& path) {
  FileAction action;
  action.path = path;
  return action;
}

}  // namespace

TEST_CASE("action order: actions with nothing pending leave at once, in order") {
  ActionOrder order;
  order.push(action_on("/w/a"));
  order.push(action_on("/w/b"));
  CHECK(paths_of(order.take()) == std::vector<std::string>{"/w/a", "/w/b"});
  CHECK(order.take().empty());
}

TEST_CASE("action order: what follows an unfinished move waits behind it, then leaves after it") {
  ActionOrder order;
  order.push(action_on("/w/before"));
  const auto move = order.reserve();
  order.push(action_on("/w/after"));
  CHECK(paths_of(order.take()) == std::vector<std::string>{"/w/before"});
  CHECK(order.take().empty());
  order.push(action_on("/w/moved"), move);
  CHECK(order.take().empty());  // not filled: more may come into it
  order.fill(move);
  CHECK(paths_of(order.take()) == std::vector<std::string>{"/w/moved", "/w/after"});
}

TEST_CASE("action order: two moves pending at once release their actions in order") {
  ActionOrder order;
  const auto first = order.reserve();
  order.push(action_on("/w/x"));
  const auto second = order.reserve();
  order.push(action_on("/w/y"));
  order.push(action_on("/w/second"), second);
  order.fill(second);
  CHECK(order.take().empty());  // the first still holds everything behind it
  order.push(action_on("/w/first"), first);
  order.fill(first);
  CHECK(paths_of(order.take()) ==
        std::vector<std::string>{"/w/first", "/w/x", "/w/second", "/w/y"});
}

TEST_CASE("action order: a slot filled with no action releases what waits behind it") {
  ActionOrder order;
  const auto move = order.reserve();
  order.push(action_on("/w/after"));
  order.fill(move);
  order.fill(move);  // twice, or an unknown slot: no effect
  order.fill(12345);
  CHECK(paths_of(order.take()) == std::vector<std::string>{"/w/after"});
}
}  // namespace folderhook::watch
