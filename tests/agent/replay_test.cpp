#include "agent/replay.h"

#include <doctest/doctest.h>

#include "agent/webhook.h"
#include "delivery/signature.h"

using namespace folderhook;
using agent::FolderRule;

namespace {

FolderRule rule(const std::string& path, const std::string& url, const std::string& method = "GET") {
  FolderRule r;
  r.path = path;
  r.urls = {url};
  r.method = method;
  return r;
}

// A request as the agent stored it for `r`, with a file name that is not UTF-8.
delivery::Request stored_for(const FolderRule& r) {
  watch::FileAction a;
  a.action = watch::Action::kCreate;
  a.path = r.path + "/caf\xE9.csv";
  a.at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  a.username = "alice";
  delivery::Request request = agent::make_request(a, r);
  request.id = "msg_1";
  return request;
}

}  // namespace

TEST_CASE("a replayed request takes the current rule's URLs, headers and secret, and keeps its id and fields") {
  const FolderRule old_rule = rule("/srv/in", "http://old/hook");
  FolderRule now = rule("/srv/in", "http://new/hook");
  now.headers = {{"Authorization", "Bearer b"}};
  now.secret = "whsec_c2VjcmV0";
  const delivery::Request stored = stored_for(old_rule);
  const auto replayed = agent::with_current_rule(stored, agent::current_rule_of({now}, stored));
  CHECK(replayed.kept_stored.empty());
  CHECK(replayed.request.urls == now.urls);
  CHECK(replayed.request.headers == now.headers);
  CHECK(replayed.request.secret == now.secret);
  CHECK(replayed.request.id == "msg_1");
  CHECK(replayed.request.query == stored.query);
}

TEST_CASE("a folder no longer in the rules keeps everything as stored, and says why") {
  const delivery::Request stored = stored_for(rule("/srv/in", "http://old/hook"));
  const std::vector<FolderRule> rules = {rule("/srv/other", "http://new/hook")};
  CHECK(agent::current_rule_of(rules, stored) == nullptr);
  const auto replayed = agent::with_current_rule(stored, nullptr);
  CHECK(replayed.request.urls == stored.urls);
  CHECK(replayed.kept_stored.find("/srv/in") != std::string::npos);
}

TEST_CASE("of several rules on the folder, the one with the stored URLs; else none") {
  const delivery::Request stored = stored_for(rule("/srv/in", "http://b/hook"));
  const std::vector<FolderRule> rules = {rule("/srv/in", "http://a/hook"), rule("/srv/in", "http://b/hook")};
  CHECK(agent::current_rule_of(rules, stored) == &rules[1]);
  const std::vector<FolderRule> changed = {rule("/srv/in", "http://a/hook"), rule("/srv/in", "http://c/hook")};
  CHECK(agent::current_rule_of(changed, stored) == nullptr);
}

TEST_CASE("a changed method carries the same fields, exact bytes included, between query and JSON") {
  const FolderRule get = rule("/srv/in", "http://h/hook");
  const FolderRule post = rule("/srv/in", "http://h/hook", "POST");
  const delivery::Request as_get = stored_for(get);
  const delivery::Request as_post = stored_for(post);

  const auto to_post = agent::with_current_rule(as_get, &post);
  CHECK(to_post.request.method == "POST");
  CHECK(to_post.request.query.empty());
  CHECK(to_post.request.content_type == "application/json");
  CHECK(nlohmann::json::parse(to_post.request.body) == nlohmann::json::parse(as_post.body));

  const auto to_get = agent::with_current_rule(as_post, &get);
  CHECK(to_get.request.method == "GET");
  CHECK(to_get.request.body.empty());
  CHECK(to_get.request.query == as_get.query);
}

TEST_CASE("a multipart request keeps its method and body when the rule now says GET") {
  const FolderRule get = rule("/srv/in", "http://new/hook");
  delivery::Request stored = stored_for(rule("/srv/in", "http://old/hook", "POST"));
  stored.content_type = "multipart/form-data; boundary=x";
  stored.body = "--x--\r\n";
  const auto replayed = agent::with_current_rule(stored, &get);
  CHECK(replayed.request.method == "POST");
  CHECK(replayed.request.body == stored.body);
  CHECK(replayed.request.urls == stored.urls);
  CHECK(!replayed.kept_stored.empty());
}

TEST_CASE("a folder with a body_template now gets the body rendered again, with the stored id") {
  FolderRule templated = rule("/srv/in", "http://h/hook", "POST");
  templated.body_template = R"({"id": "{{id}}", "p": "{{path}}", "b": "{{path_base64}}"{{#size}}, "s": 1{{/size}}})";
  templated.content_type = "application/vnd.x+json";
  for (const FolderRule& before : {rule("/srv/in", "http://h/hook"),
                                   rule("/srv/in", "http://h/hook", "POST")}) {
    const delivery::Request stored = stored_for(before);
    const auto replayed = agent::with_current_rule(stored, &templated);
    CHECK(replayed.kept_stored.empty());
    CHECK(replayed.request.method == "POST");
    CHECK(replayed.request.query.empty());
    CHECK(replayed.request.content_type == "application/vnd.x+json");
    const auto body = nlohmann::json::parse(replayed.request.body);
    CHECK(body["id"] == "msg_1");
    CHECK(body["p"] == "/srv/in/caf\xEF\xBF\xBD.csv");
    CHECK(delivery::base64_decode(body["b"].get<std::string>()) == "/srv/in/caf\xE9.csv");
    CHECK_FALSE(body.contains("s"));  // the size is not stored
  }
}

TEST_CASE("a templated body whose folder has no template now is sent as the fields' JSON") {
  FolderRule templated = rule("/srv/in", "http://h/hook", "POST");
  templated.body_template = "{{path}}";
  templated.content_type = "text/plain";
  const FolderRule post = rule("/srv/in", "http://h/hook", "POST");
  const delivery::Request stored = stored_for(templated);
  CHECK(stored.body == "/srv/in/caf\xE9.csv");
  const auto replayed = agent::with_current_rule(stored, &post);
  CHECK(replayed.request.content_type == "application/json");
  CHECK(nlohmann::json::parse(replayed.request.body) == nlohmann::json::parse(stored_for(post).body));
}
