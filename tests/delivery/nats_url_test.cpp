#include "delivery/nats/nats_url.h"

#include <doctest/doctest.h>

#include "delivery/sink_set.h"
#include "delivery/url.h"

using namespace folderhook::delivery;

TEST_CASE("a NATS URL gives its servers, credentials, TLS and subject") {
  std::string error;
  const auto u = parse_nats_url("nats://al%40ice:p%3Ass@Host-1:4223,10.0.0.2,[::1]:5/files.{action}", error);
  REQUIRE_MESSAGE(u, error);
  CHECK_FALSE(u->tls);
  CHECK(u->user == "al@ice");
  CHECK(u->password == "p:ss");
  CHECK(u->servers == std::vector<std::string>{"nats://host-1:4223", "nats://10.0.0.2:4222",
                                               "nats://[::1]:5"});
  CHECK(u->subject == "files.{action}");
  const auto t = parse_nats_url("tls://n.example:7422/a.b", error);
  REQUIRE(t);
  CHECK(t->tls);
  CHECK(t->servers == std::vector<std::string>{"tls://n.example:7422"});
}

TEST_CASE("a bad NATS URL is refused with the reason") {
  const std::pair<const char*, const char*> cases[] = {
      {"nats://h:4222", "no subject"},
      {"nats://h:4222/", "no subject"},
      {"nats://h:4222/a..b", "empty token"},
      {"nats://h:4222/a.*", "wildcard"},
      {"nats://h:4222/a.>", "wildcard"},
      {"nats://h:4222/a.{verb}", "not part of {action}"},
      {"nats://h:99999/a", "invalid port"},
      {"nats://h:/a", "invalid port"},
      {"nats://h:1,,h:2/a", "no host"},
      {"nats://[]:4222/a", "no host"},  // an empty IPv6 literal, as parse_url refuses it
      {"nats://[::1/a", "IPv6"},
      {"nats://h:1/a?token=x", "query or fragment"},
      {"nats://h%zz/a", "invalid character"},
      {"nats://u:%zz@h/a", "percent escape"},
      {"nats://h/a b", "space"},
      {"http://h/a", "not a NATS URL"},
  };
  for (const auto& [text, why] : cases) {
    std::string error;
    CHECK_MESSAGE(!parse_nats_url(text, error), text);
    CHECK_MESSAGE(error.find(why) != std::string::npos, text, " -> ", error);
  }
}

TEST_CASE("{action} in the subject becomes the operation's action") {
  CHECK(nats_subject("files.{action}", "create") == "files.create");
  CHECK(nats_subject("{action}.{action}", "move") == "move.move");
  CHECK(nats_subject("plain", "destroy") == "plain");
  CHECK_FALSE(nats_subject("files.{action}", ""));  // an empty token
}

TEST_CASE("the URLs a rules file may hold: http, https, nats and tls; nothing else") {
  std::string error;
  CHECK(valid_url("http://h/x", error));
  CHECK(valid_url("nats://h:1,h:2/s.{action}", error));
  CHECK(valid_url("tls://h/s", error));
  CHECK_FALSE(valid_url("ftp://h/x", error));
  CHECK(error.find("expected http, https, nats, tls or exec") != std::string::npos);
  CHECK_FALSE(valid_url("nats://h", error));
}

TEST_CASE("a NATS URL's password is masked in logs") {
  const std::string masked = mask_url("nats://user:s3cret@h:1,h:2/files.x");
  CHECK(masked.find("s3cret") == std::string::npos);
  CHECK(masked.find("h:1,h:2/files.x") != std::string::npos);
}

TEST_CASE("a NATS lane sends in order from one thread, in large batches; HTTP as configured") {
  CHECK(lane_shape("nats://h/s", 4, 1).first_senders == 1);
  CHECK(lane_shape("tls://h/s", 4, 1).batch > 100);
  CHECK(lane_shape("http://h/", 4, 64).first_senders == 4);
  CHECK(lane_shape("http://h/", 4, 64).batch == 64);
  CHECK_FALSE(lane_shape("http://h/", 4, 64).stream);
  // Without pipelining, one thread streams over the connections; with one, one at a time.
  CHECK(lane_shape("http://h/", 4, 1).first_senders == 1);
  CHECK(lane_shape("http://h/", 4, 1).stream);
  CHECK_FALSE(lane_shape("https://h/", 1, 1).stream);
  CHECK_FALSE(lane_shape("exec:/bin/true", 4, 1).stream);
}
