#include "delivery/url.h"

#include <doctest/doctest.h>

using namespace folderhook::delivery;

TEST_CASE("percent_encode keeps only unreserved bytes and uses uppercase hex") {
  CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encode("a b") == "a%20b");
  CHECK(percent_encode("&=%#+") == "%26%3D%25%23%2B");
  CHECK(percent_encode("line\nbreak") == "line%0Abreak");
  CHECK(percent_encode("/dir/f.txt") == "%2Fdir%2Ff.txt");
  CHECK(percent_encode(std::string("\xff\xfe\x80", 3)) == "%FF%FE%80");
  CHECK(percent_encode(std::string("a\0b", 3)) == "a%00b");
  CHECK(percent_encode("caf\xC3\xA9") == "caf%C3%A9");
  CHECK(percent_encode("") == "");
}

TEST_CASE("percent_decode inverts percent_encode on arbitrary bytes") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  CHECK(percent_decode(percent_encode(all)) == all);
  CHECK(percent_decode("a+b") == "a+b");
  CHECK_FALSE(percent_decode("%4").has_value());
  CHECK_FALSE(percent_decode("%").has_value());
  CHECK_FALSE(percent_decode("%zz").has_value());
}

TEST_CASE("parse_url splits scheme, credentials, host, port and target") {
  std::string error;
  auto u = parse_url("https://user:p%40ss@Example.COM:8443/hook/x?a=1&b=2", error);
  REQUIRE(u);
  CHECK(u->scheme == "https");
  CHECK(u->user == "user");
  CHECK(u->password == "p@ss");
  CHECK(u->host == "example.com");
  CHECK(u->port == 8443);
  CHECK(u->target == "/hook/x?a=1&b=2");
  CHECK(u->origin() == "https://example.com:8443");

  u = parse_url("http://127.0.0.1", error);
  REQUIRE(u);
  CHECK(u->port == 80);
  CHECK(u->target == "/");
  u = parse_url("https://h?x=1", error);
  REQUIRE(u);
  CHECK(u->port == 443);
  CHECK(u->target == "/?x=1");
  u = parse_url("http://[::1]:9000/p", error);
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->origin() == "http://[::1]:9000");
}

TEST_CASE("parse_url names what is wrong") {
  auto error_of = [](std::string_view text) {
    std::string error;
    CHECK_FALSE(parse_url(text, error).has_value());
    return error;
  };
  CHECK(error_of("") == "URL is empty");
  CHECK(error_of("example.com/hook").find("no scheme") != std::string::npos);
  CHECK(error_of("ftp://example.com/").find("unsupported URL scheme 'ftp'") != std::string::npos);
  CHECK(error_of("http:///path").find("no host") != std::string::npos);
  CHECK(error_of("http://h:0/").find("invalid port") != std::string::npos);
  CHECK(error_of("http://h:65536/").find("invalid port") != std::string::npos);
  CHECK(error_of("http://h:80x/").find("invalid port") != std::string::npos);
  CHECK(error_of("http://h:/").find("invalid port") != std::string::npos);
  CHECK(error_of("http://h/a b").find("space") != std::string::npos);
  CHECK(error_of("http://h/#frag").find("fragment") != std::string::npos);
  CHECK(error_of("http://h^x/").find("invalid character") != std::string::npos);
  CHECK(error_of("http://[::1/").find("IPv6") != std::string::npos);
}

TEST_CASE("mask_url hides credentials, also in URLs that do not parse") {
  CHECK(mask_url("https://user:secret@host/p?q=1") == "https://***@host/p?q=1");
  CHECK(mask_url("http://host/p?email=a@b") == "http://host/p?email=a@b");
  CHECK(mask_url("http://host/") == "http://host/");
  CHECK(mask_url("weird://u:pw@h:x") == "weird://***@h:x");
}

TEST_CASE("append_query adds ? or &") {
  CHECK(append_query("/hook", "a=1") == "/hook?a=1");
  CHECK(append_query("/hook?k=v", "a=1") == "/hook?k=v&a=1");
  CHECK(append_query("/hook", "") == "/hook");
}
