// ResponseParser: one HTTP/1.1 response out of a connection's bytes, without I/O.
#include "delivery/http/response.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>

using folderhook::delivery::ResponseParser;
using State = ResponseParser::State;

namespace {

// Feeds `text` in pieces of `step` bytes; returns how many bytes the parser took.
size_t feed_in_steps(ResponseParser& p, const std::string& text, size_t step) {
  size_t used = 0;
  while (used < text.size() && p.state() == State::kNeedMore) {
    const size_t n = std::min(step, text.size() - used);
    const size_t took = p.feed(std::string_view(text).substr(used, n));
    used += took;
    if (took < n) break;
  }
  return used;
}

}  // namespace

TEST_CASE("a response with Content-Length ends where its body ends, leaving the next one") {
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
  const std::string next = "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{7}, size_t{1000}}) {
    ResponseParser p(false, 64 * 1024, 2048);
    CHECK(feed_in_steps(p, first + next, step) == first.size());
    CHECK(p.state() == State::kDone);
    CHECK(p.status() == 200);
    CHECK(p.body() == "hello");
    CHECK(p.keep_alive());
  }
}

TEST_CASE("a chunked body with extensions and a trailer is read to its end") {
  const std::string text =
      "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{3}, size_t{1000}}) {
    ResponseParser p(false, 64 * 1024, 2048);
    CHECK(feed_in_steps(p, text + "NEXT", step) == text.size());
    CHECK(p.state() == State::kDone);
    CHECK(p.status() == 202);
    CHECK(p.body() == "Wikipedia");
  }
}

TEST_CASE("without a length the body runs until the close, and the connection ends") {
  ResponseParser p(false, 64 * 1024, 2048);
  p.feed("HTTP/1.0 200 OK\r\n\r\nall of it");
  CHECK(p.state() == State::kNeedMore);
  p.end_of_stream();
  CHECK(p.state() == State::kDone);
  CHECK(p.body() == "all of it");
  CHECK_FALSE(p.keep_alive());
}

TEST_CASE("Connection: close and HTTP/1.0 end the connection; keep-alive keeps a 1.0 one") {
  const std::pair<const char*, bool> cases[] = {
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true},
  };
  for (const auto& [response, keep_alive] : cases) {
    CAPTURE(response);
    ResponseParser p(false, 1024, 1024);
    p.feed(response);
    CHECK(p.state() == State::kDone);
    CHECK(p.keep_alive() == keep_alive);
  }
}

TEST_CASE("an interim 100 Continue is skipped for the response that follows") {
  ResponseParser p(false, 1024, 1024);
  p.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\nRetry-After: 7\r\n"
         "Content-Length: 2\r\n\r\nno");
  CHECK(p.state() == State::kDone);
  CHECK(p.status() == 429);
  CHECK(p.retry_after() == "7");
  CHECK(p.body() == "no");
}

TEST_CASE("HEAD, 204 and 304 responses have no body whatever their headers say") {
  ResponseParser head(true, 1024, 1024);
  head.feed("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
  CHECK(head.state() == State::kDone);
  ResponseParser none(false, 1024, 1024);
  none.feed("HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(none.state() == State::kDone);
  CHECK(none.status() == 204);
}

TEST_CASE("a body over the limit fails the parse, keeping its first bytes") {
  ResponseParser declared(false, 10, 4);
  declared.feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");
  CHECK(declared.state() == State::kError);
  CHECK(declared.body_too_large());
  ResponseParser chunked(false, 10, 4);
  chunked.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n1234");
  CHECK(chunked.state() == State::kError);
  CHECK(chunked.body_too_large());
  CHECK(chunked.body() == "1234");
  CHECK(chunked.error().find("larger than") != std::string::npos);
}

TEST_CASE("bytes that are not an HTTP response, and a close mid-body, are errors") {
  ResponseParser garbage(false, 1024, 1024);
  garbage.feed("SSH-2.0-OpenSSH_9.2\r\n\r\n");
  CHECK(garbage.state() == State::kError);
  CHECK(garbage.status() == 0);
  ResponseParser cut(false, 1024, 1024);
  cut.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  cut.end_of_stream();
  CHECK(cut.state() == State::kError);
  CHECK(cut.status() == 200);
  ResponseParser bad_chunk(false, 1024, 1024);
  bad_chunk.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  CHECK(bad_chunk.state() == State::kError);
}
