// An agent upgraded with rows pending in an outbox written before the sinks (request encoding
// version 2, no fields): they are still delivered. And what the sink seam decides per URL: a
// URL no sink can serve is a dead letter at once, not a retry.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <map>

#include "delivery/dispatcher.h"
#include "delivery/request_codec.h"
#include "harness.h"
#include "tests/delivery/older_blobs.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

TEST_CASE("rows pending in an outbox written before the sinks are delivered after the upgrade") {
  TempDir dir;
  Receiver receiver;
  auto options = test_options(dir.path());
  {
    // Creates outbox.db with today's schema, empty.
    LogCollector log;
    std::string error;
    auto d = open_dispatcher(options, log.logger(), error);
    REQUIRE(d);
    d->shutdown();
  }
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path() + "/outbox.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO outbox(id, request, enqueued_ms) VALUES(?, ?, 1)",
                               -1, &st, nullptr) == SQLITE_OK);
    for (int i = 0; i < 3; ++i) {
      Request r;
      r.id = "msg_legacy_" + std::to_string(i);
      r.urls = {receiver.url()};
      r.query = "action=create&path=%2Fold" + std::to_string(i);
      r.action = "create";
      r.path = "/old" + std::to_string(i);
      r.rule = "/demo";
      const std::string blob = version_2_blob(r);
      sqlite3_bind_text(st, 1, r.id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(st, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
      REQUIRE(sqlite3_step(st) == SQLITE_DONE);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  LogCollector log;
  std::string error;
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE(d);
  REQUIRE(receiver.wait([](const auto& got) { return got.size() >= 3; }, 10s));
  // Several first senders: in any order, each with its stored query and id.
  std::map<std::string, std::string> query_of;
  for (const auto& got : receiver.received()) query_of[got.headers.at("webhook-id")] = got.raw_query;
  CHECK(query_of == std::map<std::string, std::string>{{"msg_legacy_0", "action=create&path=%2Fold0"},
                                                       {"msg_legacy_1", "action=create&path=%2Fold1"},
                                                       {"msg_legacy_2", "action=create&path=%2Fold2"}});
  d->shutdown();
}

TEST_CASE("a URL no sink can serve is a dead letter at once; the next URL is still tried") {
  TempDir dir;
  Receiver receiver;
  LogCollector log;
  std::string error;
  auto d = open_dispatcher(test_options(dir.path()), log.logger(), error);
  REQUIRE(d);
  Request alone;
  alone.urls = {"gopher://127.0.0.1:1/x"};
  alone.action = "create";
  alone.path = "/a";
  Request with_http = alone;
  with_http.urls = {"gopher://127.0.0.1:1/x", receiver.url()};
  with_http.path = "/b";
  d->submit({alone, with_http});
  REQUIRE(log.wait(
      [](const auto& lines) {
        int n = 0;
        for (const auto& l : lines) n += l.value("msg", "") == "delivery";
        return n >= 2;
      },
      10s));
  for (const auto& l : log.attempts()) {
    if (l.value("path", "") == "/a") {
      CHECK(l["outcome"] == "dead");
      CHECK(l["attempt"] == 1);
      CHECK(l.value("error", "").find("unsupported URL scheme 'gopher'") != std::string::npos);
    } else {
      CHECK(l["outcome"] == "delivered");
    }
  }
  CHECK(receiver.count() == 1);
  d->shutdown();
}
