#include "agent/webhook.h"

#include <doctest/doctest.h>

using namespace folderhook;
using agent::FolderRule;
using agent::format_at;
using agent::webhook_query;
using watch::Action;
using watch::FileAction;

namespace {

std::chrono::system_clock::time_point at_seconds(int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

FileAction action(Action kind, std::string path, std::string destination = "") {
  FileAction a;
  a.action = kind;
  a.path = std::move(path);
  a.destination = std::move(destination);
  a.at = at_seconds(1'700'000'000);
  a.username = "alice";
  return a;
}

}  // namespace

TEST_CASE("at is UTC with seconds and an explicit +00:00 offset") {
  CHECK(format_at(at_seconds(0)) == "1970-01-01T00:00:00+00:00");
  CHECK(format_at(at_seconds(1'700'000'000)) == "2023-11-14T22:13:20+00:00");
  CHECK(format_at(at_seconds(1'700'000'000) + std::chrono::milliseconds(999)) ==
        "2023-11-14T22:13:20+00:00");
}

TEST_CASE("a create carries six parameters in the documented order, without destination") {
  FolderRule rule;
  rule.interface = "sftp";
  CHECK(webhook_query(action(Action::kCreate, "/srv/in/a.txt"), rule) ==
        "action=create&interface=sftp&path=%2Fsrv%2Fin%2Fa.txt&at=2023-11-14T22%3A13%3A20%2B00%3A00"
        "&username=alice&type=file");
}

TEST_CASE("a move carries its destination between path and at") {
  FolderRule rule;
  const std::string q = webhook_query(action(Action::kMove, "/d/a", "/d/b"), rule);
  CHECK(q == "action=move&interface=web&path=%2Fd%2Fa&destination=%2Fd%2Fb"
             "&at=2023-11-14T22%3A13%3A20%2B00%3A00&username=alice&type=file");
}

TEST_CASE("names with reserved characters, newlines and non-UTF-8 bytes are encoded byte by byte") {
  FolderRule rule;
  const std::string q =
      webhook_query(action(Action::kDestroy, "/d/a b&c=d%e#f+g\nh\xFF\xC3\xA9"), rule);
  CHECK(q.find("path=%2Fd%2Fa%20b%26c%3Dd%25e%23f%2Bg%0Ah%FF%C3%A9&") != std::string::npos);
}

TEST_CASE("a folder's fixed username replaces the owner") {
  FolderRule rule;
  rule.username = "robot user";
  const std::string q = webhook_query(action(Action::kRead, "/x"), rule);
  CHECK(q.find("&username=robot%20user&") != std::string::npos);
}

TEST_CASE("a directory is reported with type=directory") {
  FolderRule rule;
  FileAction a = action(Action::kCreate, "/d/sub");
  a.type = watch::ObjectType::kDirectory;
  CHECK(webhook_query(a, rule).ends_with("&type=directory"));
}

TEST_CASE("the request keeps the rule's URLs in order and labels for the log") {
  FolderRule rule;
  rule.path = "/d";
  rule.urls = {"http://primary/hook", "http://backup/hook"};
  const delivery::Request r = agent::make_request(action(Action::kCreate, "/d/a"), rule);
  CHECK(r.urls == rule.urls);
  CHECK(r.method == "GET");
  CHECK(r.action == "create");
  CHECK(r.path == "/d/a");
  CHECK(r.rule == "/d");
  CHECK(r.created_ms == 1'700'000'000'000);
}

TEST_CASE("the actor's interface and user come before the folder's interface and the owner") {
  FolderRule rule;
  rule.interface = "web";
  FileAction a = action(Action::kDestroy, "/d/a");
  a.actor_username = "bob";
  a.actor_interface = "sftp";
  std::string q = webhook_query(a, rule);
  CHECK(q.find("&interface=sftp&") != std::string::npos);
  CHECK(q.find("&username=bob&") != std::string::npos);
  a.actor_interface.clear();  // no process name matched, or the process was gone
  a.actor_username.clear();
  q = webhook_query(a, rule);
  CHECK(q.find("&interface=web&") != std::string::npos);
  CHECK(q.find("&username=alice&") != std::string::npos);
  a.actor_username = "bob";
  rule.username = "fixed";  // a folder's fixed username still wins
  CHECK(webhook_query(a, rule).find("&username=fixed&") != std::string::npos);
}
