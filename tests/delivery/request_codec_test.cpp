#include "delivery/request_codec.h"
#include "tests/delivery/version_2_blob.h"

#include <doctest/doctest.h>

using namespace folderhook::delivery;
using folderhook::delivery::test::version_2_blob;

TEST_CASE("a request survives the outbox encoding byte for byte") {
  Request r;
  r.id = "msg_1";
  r.method = "POST";
  r.urls = {"http://a/", "https://u:p@b:8443/x?y=1"};
  r.query = "path=%FF%0A";
  r.body = std::string("{\"a\":\"\xff\0\"}", 10);
  r.content_type = "application/json";
  r.headers = {{"X-A", "1"}, {"X-B", ""}};
  r.secret = "whsec_abc";
  r.action = "move";
  r.path = std::string("/dir/\xfe\nname", 11);
  r.rule = "/dir";
  r.created_ms = 1'700'000'000'123;
  const auto back = decode_request(encode_request(r));
  REQUIRE(back);
  CHECK(back->id == r.id);
  CHECK(back->method == r.method);
  CHECK(back->urls == r.urls);
  CHECK(back->query == r.query);
  CHECK(back->body == r.body);
  CHECK(back->content_type == r.content_type);
  CHECK(back->headers == r.headers);
  CHECK(back->secret == r.secret);
  CHECK(back->action == r.action);
  CHECK(back->path == r.path);
  CHECK(back->rule == r.rule);
  CHECK(back->created_ms == r.created_ms);
}

TEST_CASE("a truncated or foreign blob is refused") {
  const std::string blob = encode_request(Request{});
  for (size_t n = 0; n < blob.size(); ++n) CHECK_FALSE(decode_request(blob.substr(0, n)));
  CHECK_FALSE(decode_request(blob + "x"));
  CHECK_FALSE(decode_request("\x02rest"));
}

TEST_CASE("the operation's fields survive the outbox encoding byte for byte") {
  Request r;
  r.urls = {"nats://127.0.0.1:4222/files.{action}"};
  r.fields = {{"action", "create"}, {"path", std::string("/a\xff\0b", 5)}, {"type", ""}};
  r.settings = {{"nats_token", "t0k"}};
  const auto back = decode_request(encode_request(r));
  REQUIRE(back);
  CHECK(back->fields == r.fields);
  CHECK(back->settings == r.settings);
}

TEST_CASE("a row written by version 2 of the encoding is still read, without fields") {
  Request r;
  r.id = "msg_2";
  r.urls = {"http://a/"};
  r.query = "action=create&path=%2Fx";
  r.headers = {{"X-A", "1"}};
  r.action = "create";
  r.path = "/x";
  r.created_ms = 42;
  r.catch_up = true;
  const auto back = decode_request(version_2_blob(r));
  REQUIRE(back);
  CHECK(back->query == r.query);
  CHECK(back->headers == r.headers);
  CHECK(back->catch_up);
  CHECK(back->created_ms == 42);
  CHECK(back->fields.empty());
}
