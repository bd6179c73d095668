// relay/folder_pacing.h: which folders wait for tokens, and how much a paced relay fetches.
#include "relay/folder_pacing.h"
#include "tests/relay/paced_rule.h"

#include <doctest/doctest.h>

using namespace folderhook;
using namespace std::chrono_literals;

namespace {

agent::FolderRule paced(double rate) { return relay::testing::paced_rule(rate); }

}  // namespace

TEST_CASE("FolderPacing fetches a second's worth only when every folder is paced") {
  CHECK(relay::FolderPacing({paced(20)}).fetch_size(64, 1000ms) == 20);
  CHECK(relay::FolderPacing({paced(2), paced(3)}).fetch_size(64, 1000ms) == 5);
  CHECK(relay::FolderPacing({paced(0.5)}).fetch_size(64, 1000ms) == 1);  // never 0
  CHECK(relay::FolderPacing({paced(500)}).fetch_size(16, 1000ms) == 16);  // never above batch
  CHECK(relay::FolderPacing({paced(20), paced(0)}).fetch_size(64, 1000ms) == 64);
  CHECK(relay::FolderPacing({}).fetch_size(64, 1000ms) == 64);
}

TEST_CASE("FolderPacing: an unpaced folder never waits; a paced one gives up its wait on stop") {
  const std::vector<agent::FolderRule> folders = {paced(0), paced(0.001)};
  relay::FolderPacing pacing(folders);
  std::atomic<bool> stop{false};
  int touched = 0;
  const auto touch = [&] { ++touched; };
  for (int i = 0; i < 5; ++i) CHECK(pacing.wait_turn(folders[0], stop, 1000ms, touch));
  CHECK(pacing.wait_turn(folders[1], stop, 1000ms, touch));  // its one token
  stop = true;  // the next token is 1000 s away: only the stop ends the wait
  CHECK_FALSE(pacing.wait_turn(folders[1], stop, 1000ms, touch));
  CHECK(touched == 0);
}
