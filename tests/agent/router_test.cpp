#include "agent/router.h"
#include "watch/watch_table.h"

#include <doctest/doctest.h>

using namespace folderhook;
using agent::FolderRule;
using watch::path_is_within;
using agent::route;
using watch::Action;

namespace {

FolderRule rule(std::string path) {
  FolderRule r;
  r.path = std::move(path);
  for (int a = 0; a <= static_cast<int>(Action::kCopy); ++a) r.actions.insert(static_cast<Action>(a));
  return r;
}

watch::FileAction op(Action kind, std::string path, std::string destination = "") {
  watch::FileAction a;
  a.action = kind;
  a.path = std::move(path);
  a.destination = std::move(destination);
  return a;
}

}  // namespace

TEST_CASE("a path is within a folder only at a component boundary") {
  CHECK(path_is_within("/srv/in", "/srv/in"));
  CHECK(path_is_within("/srv/in/a", "/srv/in"));
  CHECK_FALSE(path_is_within("/srv/incoming/a", "/srv/in"));
  CHECK_FALSE(path_is_within("/srv", "/srv/in"));
  CHECK(path_is_within("/anything", "/"));
}

TEST_CASE("nested folders each get the delivery, once per rule, in file order") {
  const std::vector<FolderRule> rules{rule("/srv"), rule("/srv/in"), rule("/other")};
  const auto hits = route(rules, op(Action::kCreate, "/srv/in/a.csv"));
  REQUIRE(hits.size() == 2);
  CHECK(hits[0]->path == "/srv");
  CHECK(hits[1]->path == "/srv/in");
}

TEST_CASE("a move is routed to the rules of its source and of its destination, once each") {
  const std::vector<FolderRule> rules{rule("/a"), rule("/b"), rule("/c")};
  const auto hits = route(rules, op(Action::kMove, "/a/x", "/b/x"));
  REQUIRE(hits.size() == 2);
  CHECK(hits[0]->path == "/a");
  CHECK(hits[1]->path == "/b");
  CHECK(route(rules, op(Action::kMove, "/a/x", "/a/y")).size() == 1);
}

TEST_CASE("a destination is ignored for actions that have none") {
  const std::vector<FolderRule> rules{rule("/b")};
  CHECK(route(rules, op(Action::kCreate, "/a/x", "/b/x")).empty());
}

TEST_CASE("a rule gets only the actions it lists") {
  FolderRule r = rule("/a");
  r.actions = {Action::kCreate};
  const std::vector<FolderRule> rules{r};
  CHECK(route(rules, op(Action::kCreate, "/a/x")).size() == 1);
  CHECK(route(rules, op(Action::kRead, "/a/x")).empty());
}

TEST_CASE("include and exclude globs apply to the path relative to the folder") {
  FolderRule r = rule("/a");
  r.include = {"**/*.csv"};
  r.exclude = {"**/.~*"};
  const std::vector<FolderRule> rules{r};
  CHECK(route(rules, op(Action::kCreate, "/a/report.csv")).size() == 1);
  CHECK(route(rules, op(Action::kCreate, "/a/2024/05/report.csv")).size() == 1);
  CHECK(route(rules, op(Action::kCreate, "/a/report.txt")).empty());
  CHECK(route(rules, op(Action::kCreate, "/a/sub/.~lock.csv")).empty());
}
