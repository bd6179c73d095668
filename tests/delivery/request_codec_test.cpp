#include "delivery/request_codec.h"

#include <doctest/doctest.h>

using namespace folderhook::delivery;

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
