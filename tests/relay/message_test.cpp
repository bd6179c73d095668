// relay/message.h: a stream message's fields back to their exact bytes and the webhook's order,
// routing by the [[folder]] tables, and the request the agent would send.
#include "relay/message.h"

#include <doctest/doctest.h>

#include "delivery/payload.h"

using namespace folderhook;
using relay::Fields;

namespace {

agent::FolderRule rule_for(const std::string& path) {
  agent::FolderRule rule;
  rule.path = path;
  rule.urls = {"http://127.0.0.1:9/hook"};
  for (int a = 0; a <= static_cast<int>(watch::Action::kCopy); ++a)
    rule.actions.insert(static_cast<watch::Action>(a));
  return rule;
}

Fields sample(const std::string& path = "/in/a b.txt") {
  return {{"action", "move"},   {"interface", "sftp"},
          {"path", path},       {"destination", "/in/sub/c.txt"},
          {"at", "2026-12-03T10:00:00+00:00"}, {"username", "alice"},
          {"type", "file"}};
}

}  // namespace

TEST_CASE("decode_fields gives back what the agent published, in the webhook's order") {
  const Fields fields = sample();
  const std::string body = delivery::fields_json(fields).dump();  // as the NATS sink sends it
  std::string error;
  const auto decoded = relay::decode_fields(body, error);
  REQUIRE(decoded);
  CHECK(*decoded == fields);
}

TEST_CASE("decode_fields restores bytes that are not UTF-8 from <field>_base64") {
  const Fields fields = {{"action", "create"}, {"path", std::string("/in/\xff\xfe.bin")}};
  std::string error;
  const auto decoded = relay::decode_fields(delivery::fields_json(fields).dump(), error);
  REQUIRE(decoded);
  CHECK(relay::field(*decoded, "path") == std::string("/in/\xff\xfe.bin"));
  CHECK(decoded->size() == 2);
}

TEST_CASE("decode_fields refuses what is not an operation, with the reason") {
  std::string error;
  CHECK_FALSE(relay::decode_fields("not json", error));
  CHECK(error.find("not a JSON object") != std::string::npos);
  CHECK_FALSE(relay::decode_fields(R"({"action":"create","path":7})", error));
  CHECK(error.find("'path' is not a string") != std::string::npos);
  CHECK_FALSE(relay::decode_fields(R"({"action":"explode","path":"/a"})", error));
  CHECK(error.find("'explode'") != std::string::npos);
  CHECK_FALSE(relay::decode_fields(R"({"action":"create"})", error));
  CHECK(error.find("no path") != std::string::npos);
  CHECK_FALSE(relay::decode_fields(R"({"action":"create","path":"/a","path_base64":"!!"})", error));
  CHECK(error.find("not base64") != std::string::npos);
}

TEST_CASE("route_fields: by path prefix (or a move's destination), actions, include and exclude") {
  std::vector<agent::FolderRule> rules = {rule_for("/in"), rule_for("/in/sub"), rule_for("/other")};
  rules[1].actions = {watch::Action::kCreate};
  CHECK(relay::route_fields(rules, sample()).size() == 1);  // /in; /in/sub wants no move
  rules[1].actions.insert(watch::Action::kMove);
  // The destination /in/sub/c.txt is under both.
  CHECK(relay::route_fields(rules, sample("/elsewhere/a")).size() == 2);
  rules[0].exclude = {"*.txt", "sub/*.txt"};
  const auto routed = relay::route_fields(rules, sample());
  REQUIRE(routed.size() == 1);
  CHECK(routed[0]->path == "/in/sub");
  CHECK(relay::route_fields(rules, sample("/inbox/a.txt")).size() == 1);  // not under /in
}

TEST_CASE("relay_request: the folder's method, headers and secret, and the message's id") {
  agent::FolderRule rule = rule_for("/in");
  rule.headers = {{"X-Team", "ops"}};
  rule.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const auto get = relay::relay_request(sample(), rule, "msg_1");
  CHECK(get.id == "msg_1");
  CHECK(get.method == "GET");
  CHECK(get.query ==
        "action=move&interface=sftp&path=%2Fin%2Fa%20b.txt&destination=%2Fin%2Fsub%2Fc.txt&at="
        "2026-12-03T10%3A00%3A00%2B00%3A00&username=alice&type=file");
  CHECK(get.headers == rule.headers);
  CHECK(get.secret == rule.secret);
  rule.method = "POST";
  const auto post = relay::relay_request(sample(), rule, "msg_1");
  CHECK(post.query.empty());
  CHECK(post.content_type == "application/json");
  CHECK(post.body == delivery::fields_json(sample()).dump());
}
