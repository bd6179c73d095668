#include "delivery/request_codec.h"
#include "tests/delivery/older_blobs.h"

#include <doctest/doctest.h>

using namespace folderhook::delivery;
using folderhook::delivery::test::version_2_blob;
using folderhook::delivery::test::version_3_blob;

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
  CHECK_FALSE(decode_request("\x05"));
  // A length that runs past 64 bits.
  CHECK_FALSE(decode_request(std::string("\x04") + std::string(10, '\xff') + "\x01"));
}

namespace {

// A create's request as the agent makes it for a webhook: the fields in the query and again
// in `fields`.
Request typical_request() {
  Request r;
  r.id = "msg_01a23cec58275066b815ab1c327ca43f";
  r.method = "GET";
  r.urls = {"http://127.0.0.1:8080/hook"};
  r.query =
      "action=create&interface=web&path=%2Fsrv%2Fdata%2Fdir%2Ffile-1.txt&at=2026-12-03T17%3A20"
      "%3A51%2B00%3A00&username=root&type=file";
  r.action = "create";
  r.path = "/srv/data/dir/file-1.txt";
  r.rule = "/srv/data";
  r.created_ms = 1'764'782'451'123;
  r.fields = {{"action", "create"}, {"interface", "web"}, {"path", r.path},
              {"at", "2026-12-03T17:20:51+00:00"}, {"username", "root"}, {"type", "file"}};
  return r;
}

}  // namespace

TEST_CASE("lengths and numbers are varints: a typical request is a third smaller than in 8 bytes") {
  const Request r = typical_request();
  const std::string now = encode_request(r);
  const std::string fixed = version_3_blob(r);
  CHECK(now.front() == '\x04');
  // Each of the 30 lengths and counts and the two numbers takes 1 to 6 bytes instead of 8.
  CHECK(now.size() * 3 <= fixed.size() * 2);
  const auto back = decode_request(now);
  REQUIRE(back);
  CHECK(back->query == r.query);
  CHECK(back->fields == r.fields);
  CHECK(back->created_ms == r.created_ms);
}

TEST_CASE("a number or length at each varint width survives the encoding") {
  for (const uint64_t n : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{16'383},
                           uint64_t{16'384}, uint64_t{1} << 35, ~uint64_t{0}}) {
    CAPTURE(n);
    Request r;
    r.created_ms = static_cast<int64_t>(n);
    r.body = std::string(n < 100'000 ? n : 3, 'b');
    const auto back = decode_request(encode_request(r));
    REQUIRE(back);
    CHECK(static_cast<uint64_t>(back->created_ms) == n);
    CHECK(back->body == r.body);
  }
}

TEST_CASE("a row written by version 3 of the encoding (8-byte lengths) is still read in full") {
  Request r = typical_request();
  r.urls.push_back("nats://127.0.0.1:4222/files");
  r.headers = {{"X-A", "1"}};
  r.settings = {{"nats_token", "t0k"}};
  r.catch_up = true;
  const auto back = decode_request(version_3_blob(r));
  REQUIRE(back);
  CHECK(back->id == r.id);
  CHECK(back->urls == r.urls);
  CHECK(back->query == r.query);
  CHECK(back->headers == r.headers);
  CHECK(back->path == r.path);
  CHECK(back->rule == r.rule);
  CHECK(back->created_ms == r.created_ms);
  CHECK(back->catch_up);
  CHECK(back->fields == r.fields);
  CHECK(back->settings == r.settings);
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
