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

TEST_CASE("users and interfaces filter on what is reported: the actor's before the folder's") {
  FolderRule r = rule("/a");
  r.interface = "sftp";
  r.users = {"alice"};
  r.interfaces = {"sftp", "dav"};
  const std::vector<FolderRule> rules{r};
  watch::FileAction by_alice = op(Action::kCreate, "/a/x");
  by_alice.username = "alice";  // the owner, with no actor (inotify)
  CHECK(route(rules, by_alice).size() == 1);
  watch::FileAction by_bob = by_alice;
  by_bob.actor_username = "bob";  // bob wrote alice's file (fanotify)
  CHECK(route(rules, by_bob).empty());
  watch::FileAction over_ftp = by_alice;
  over_ftp.actor_interface = "ftp";
  CHECK(route(rules, over_ftp).empty());
  watch::FileAction over_dav = by_alice;
  over_dav.actor_interface = "dav";
  CHECK(route(rules, over_dav).size() == 1);

  FolderRule fixed = r;
  fixed.username = "alice";  // a folder's fixed username is what is reported, and filtered on
  CHECK(route(std::vector<FolderRule>{fixed}, by_bob).size() == 1);
}

TEST_CASE("types keep files or directories") {
  FolderRule r = rule("/a");
  r.types = {watch::ObjectType::kDirectory};
  const std::vector<FolderRule> rules{r};
  watch::FileAction dir = op(Action::kCreate, "/a/d");
  dir.type = watch::ObjectType::kDirectory;
  CHECK(route(rules, dir).size() == 1);
  CHECK(route(rules, op(Action::kCreate, "/a/f")).empty());
}

TEST_CASE("min_size and max_size bound a file's size, never a destroy or a directory") {
  FolderRule r = rule("/a");
  r.min_size = 10;
  r.max_size = 100;
  const std::vector<FolderRule> rules{r};
  auto sized = [](Action kind, uint64_t size, watch::ObjectType type = watch::ObjectType::kFile) {
    watch::FileAction a = op(kind, "/a/f");
    a.meta.size = size;
    a.type = type;
    return a;
  };
  CHECK(route(rules, sized(Action::kCreate, 9)).empty());
  CHECK(route(rules, sized(Action::kCreate, 10)).size() == 1);
  CHECK(route(rules, sized(Action::kUpdate, 100)).size() == 1);
  CHECK(route(rules, sized(Action::kRead, 101)).empty());
  CHECK(route(rules, sized(Action::kDestroy, 0)).size() == 1);
  CHECK(route(rules, sized(Action::kCreate, 0, watch::ObjectType::kDirectory)).size() == 1);
}
