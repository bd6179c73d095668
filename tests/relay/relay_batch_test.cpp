// relay/relay_batch.h: which pending messages one batch carries, and its webhook-id.
#include "relay/relay_batch.h"
#include "tests/relay/paced_rule.h"

#include <doctest/doctest.h>

using namespace folderhook;

namespace {

agent::FolderRule rule_with_batch(size_t batch_max) {
  return relay::testing::paced_rule(0, batch_max);
}

}  // namespace

TEST_CASE("batch_positions: the folder's own messages in order up to batch_max, passing over other folders'") {
  const agent::FolderRule a = rule_with_batch(3);
  const agent::FolderRule b = rule_with_batch(1);
  using relay::Routes;
  CHECK(relay::batched(Routes{&a}));
  CHECK_FALSE(relay::batched(Routes{&b}));
  CHECK_FALSE(relay::batched(Routes{&a, &b}));  // shared: sent to each on its own
  CHECK_FALSE(relay::batched(Routes{}));

  CHECK(relay::batch_positions({{&a}, {&b}, {}, {&a}, {&a}, {&a}}) == std::vector<size_t>{0, 3, 4});
  // Stops before a message the folder shares with another: it must reach the folder after them.
  CHECK(relay::batch_positions({{&a}, {&b}, {&a}, {&b, &a}, {&a}}) == std::vector<size_t>{0, 2});
  CHECK(relay::batch_positions({{&a}}) == std::vector<size_t>{0});
  CHECK(relay::batch_positions({{&b}, {&a}}).empty());  // the front is not batched
}

TEST_CASE("relay_batch_id: derived from the members' ids in order, the same for the same set") {
  const std::string id = relay::relay_batch_id({"msg_1", "msg_2"});
  CHECK(id.rfind("batch_", 0) == 0);
  CHECK(id.size() == 6 + 32);
  CHECK(id == relay::relay_batch_id({"msg_1", "msg_2"}));
  CHECK(id != relay::relay_batch_id({"msg_2", "msg_1"}));
  CHECK(id != relay::relay_batch_id({"msg_1", "msg_2", "msg_3"}));
  // Ids are joined so that no two lists read alike.
  CHECK(relay::relay_batch_id({"ab", "c"}) != relay::relay_batch_id({"a", "bc"}));
}
