#include "agent/behaviors.h"

#include <doctest/doctest.h>

using namespace folderhook::agent;
using namespace std::chrono_literals;
using Kind = PlannedOp::Kind;

namespace {

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000'000));
constexpr int64_t kNowS = 1'000'000'000;
constexpr int64_t kDay = 86'400;

FolderRule folder(std::string path = "/f") {
  FolderRule f;
  f.path = std::move(path);
  return f;
}

Behavior retention(std::chrono::milliseconds after = 72h) {
  Behavior b;
  b.kind = "retention";
  b.after = after;
  return b;
}

// An action as the watcher reports it, for the RobotLedger to claim.
folderhook::watch::FileAction seen(folderhook::watch::Action action, const std::string& path,
                                   const std::string& destination = "") {
  folderhook::watch::FileAction a;
  a.action = action;
  a.path = path;
  a.destination = destination;
  return a;
}

std::vector<std::pair<Kind, std::string>> summary(const std::vector<PlannedOp>& ops) {
  std::vector<std::pair<Kind, std::string>> out;
  for (const auto& op : ops) out.emplace_back(op.kind, op.destination.empty() ? op.path : op.path + " -> " + op.destination);
  return out;
}

}  // namespace

TEST_CASE("retention deletes files older than after, by modification time, and nothing newer") {
  const std::vector<ListedEntry> entries{{"/f/old", false, kNowS - 4 * kDay},
                                         {"/f/new", false, kNowS - 1 * kDay},
                                         {"/f/edge", false, kNowS - 3 * kDay}};
  CHECK(summary(plan_behavior(folder(), retention(), entries, kNow)) ==
        std::vector<std::pair<Kind, std::string>>{{Kind::kDelete, "/f/edge"}, {Kind::kDelete, "/f/old"}});
}

TEST_CASE("retention's include globs apply to the path relative to the folder") {
  Behavior b = retention();
  b.include = {"**/*.csv"};
  const std::vector<ListedEntry> entries{{"/f/a.csv", false, 0}, {"/f/a.txt", false, 0},
                                         {"/f/sub", true, 0}, {"/f/sub/b.csv", false, 0}};
  CHECK(summary(plan_behavior(folder(), b, entries, kNow)) ==
        std::vector<std::pair<Kind, std::string>>{{Kind::kDelete, "/f/a.csv"}, {Kind::kDelete, "/f/sub/b.csv"}});
}

TEST_CASE("directories are never deleted as files, and without remove_empty_dirs never at all") {
  const std::vector<ListedEntry> entries{{"/f/sub", true, 0}, {"/f/sub/x", false, 0}};
  CHECK(summary(plan_behavior(folder(), retention(), entries, kNow)) ==
        std::vector<std::pair<Kind, std::string>>{{Kind::kDelete, "/f/sub/x"}});
}

TEST_CASE("remove_empty_dirs removes only directories it emptied, deepest first") {
  Behavior b = retention();
  b.remove_empty_dirs = true;
  const std::vector<ListedEntry> entries{
      {"/f/a", true, 0},         {"/f/a/b", true, 0},        {"/f/a/b/old", false, 0},
      {"/f/keep", true, 0},      {"/f/keep/old", false, 0},  {"/f/keep/new", false, kNowS},
      {"/f/empty", true, 0}};
  CHECK(summary(plan_behavior(folder(), b, entries, kNow)) ==
        std::vector<std::pair<Kind, std::string>>{{Kind::kDelete, "/f/a/b/old"},
                                                  {Kind::kDelete, "/f/keep/old"},
                                                  {Kind::kRemoveDir, "/f/a/b"},
                                                  {Kind::kRemoveDir, "/f/a"}});
}

TEST_CASE("move_after moves into `to` keeping the relative path, and leaves `to` itself alone") {
  Behavior b;
  b.kind = "move_after";
  b.after = 24h;
  b.to = "/f/archive";
  const std::vector<ListedEntry> entries{{"/f/in", true, 0},           {"/f/in/a.csv", false, 0},
                                         {"/f/archive", true, 0},      {"/f/archive/old", false, 0}};
  CHECK(summary(plan_behavior(folder(), b, entries, kNow)) ==
        std::vector<std::pair<Kind, std::string>>{{Kind::kMove, "/f/in/a.csv -> /f/archive/in/a.csv"}});
}

TEST_CASE("nothing outside the folder is ever planned") {
  const std::vector<ListedEntry> entries{{"/other/x", false, 0}, {"/f", true, 0}, {"/fx/y", false, 0}};
  CHECK(plan_behavior(folder(), retention(), entries, kNow).empty());
}

TEST_CASE("the robot ledger claims each expected operation once") {
  RobotLedger ledger;
  ledger.expect(folderhook::watch::Action::kDestroy, "/f/a");
  folderhook::watch::FileAction a;
  a.action = folderhook::watch::Action::kDestroy;
  a.path = "/f/a";
  CHECK(ledger.claim(a));
  CHECK_FALSE(ledger.claim(a));
  ledger.expect(folderhook::watch::Action::kMove, "/f/a", "/f/b");
  a.action = folderhook::watch::Action::kMove;
  a.destination = "/f/c";
  CHECK_FALSE(ledger.claim(a));
  a.destination = "/f/b";
  CHECK(ledger.claim(a));
}

TEST_CASE("a robot move seen as destroy plus create is claimed in both halves, once") {
  using folderhook::watch::Action;
  RobotLedger ledger;
  ledger.expect(Action::kMove, "/f/a", "/f/archive/a");
  const auto destroy = seen(Action::kDestroy, "/f/a");
  const auto create = seen(Action::kCreate, "/f/archive/a");
  const auto move = seen(Action::kMove, "/f/a", "/f/archive/a");
  CHECK(ledger.claim(destroy));
  CHECK_FALSE(ledger.claim(move));
  CHECK(ledger.claim(create));
  CHECK_FALSE(ledger.claim(create));
}

TEST_CASE("a robot move claimed as a move leaves nothing else to claim") {
  using folderhook::watch::Action;
  RobotLedger ledger;
  ledger.expect(Action::kMove, "/f/a", "/f/b");
  auto move = seen(Action::kMove, "/f/a", "/f/b");
  CHECK(ledger.claim(move));
  move.action = Action::kDestroy;
  move.destination.clear();
  CHECK_FALSE(ledger.claim(move));
}
