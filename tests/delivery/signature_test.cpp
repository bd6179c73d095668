#include "delivery/signature.h"

#include <doctest/doctest.h>

#include "delivery/attempt.h"

using namespace folderhook::delivery;

// The example of the Standard Webhooks specification (and its reference libraries' tests),
// checked independently with: printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test":
// 2432232314}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the key> -binary | base64
TEST_CASE("signature matches the Standard Webhooks example vector") {
  std::string error;
  const auto sig = sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                R"({"test": 2432232314})", error);
  REQUIRE(sig);
  CHECK(*sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("a malformed secret is an error, not a signature") {
  std::string error;
  CHECK_FALSE(sign_webhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", 1, "", error));
  CHECK(error.find("whsec_") != std::string::npos);
  CHECK_FALSE(sign_webhook("whsec_!!!!", "id", 1, "", error));
  CHECK(error.find("base64") != std::string::npos);
}

TEST_CASE("base64 round-trips every length") {
  std::string bytes;
  for (int n = 0; n < 20; ++n) {
    CHECK(base64_decode(base64_encode(bytes)) == bytes);
    bytes.push_back(static_cast<char>(0xF0 + n));
  }
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_decode("Zm9vYg") == "foob");
}

TEST_CASE("webhook headers: user agent, id, timestamp, the request's own, then the signature") {
  Request r;
  r.id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  r.query = R"({"test": 2432232314})";  // a GET signs its exact query string
  r.headers = {{"X-Extra", "1"}};
  r.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  std::string error;
  const auto h = webhook_headers(r, "folderhook/0.1", 1614265330, error);
  REQUIRE(h);
  REQUIRE(h->size() == 5);
  CHECK((*h)[0] == std::pair<std::string, std::string>{"User-Agent", "folderhook/0.1"});
  CHECK((*h)[1].second == r.id);
  CHECK((*h)[2].second == "1614265330");
  CHECK((*h)[3].first == "X-Extra");
  CHECK((*h)[4] == std::pair<std::string, std::string>{
                       "webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="});
  r.secret.clear();
  CHECK(webhook_headers(r, "ua", 1, error)->size() == 4);
}
