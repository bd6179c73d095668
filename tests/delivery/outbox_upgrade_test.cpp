// An agent upgraded with rows pending in an outbox written before the sinks (request encoding
// version 2, no fields): they are still delivered. Rows it cannot read (a newer encoding left
// by a downgrade, a damaged blob) are logged and kept. And what the sink seam decides per URL: a
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

namespace {

// outbox.db with today's schema and nothing pending, as an agent leaves it.
void create_outbox(const DispatcherOptions& options) {
  LogCollector log;
  std::string error;
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE(d);
  d->shutdown();
}

struct StoredRow {
  std::string id;
  std::string blob;
  int attempts = 0;
};

// Rows written straight into the outbox, as another version of the agent left them; each due.
void store_rows(const std::string& state_dir, const std::vector<StoredRow>& rows) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((state_dir + "/outbox.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "INSERT INTO outbox(id, request, enqueued_ms, attempts, next_at_ms) "
                             "VALUES(?, ?, 1, ?, 1)",
                             -1, &st, nullptr) == SQLITE_OK);
  for (const StoredRow& row : rows) {
    sqlite3_bind_text(st, 1, row.id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, row.blob.data(), static_cast<int>(row.blob.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, row.attempts);
    REQUIRE(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("rows pending in an outbox written before the sinks are delivered after the upgrade") {
  TempDir dir;
  Receiver receiver;
  auto options = test_options(dir.path());
  create_outbox(options);
  std::vector<StoredRow> rows;
  for (int i = 0; i < 3; ++i) {
    Request r;
    r.id = "msg_legacy_" + std::to_string(i);
    r.urls = {receiver.url()};
    r.query = "action=create&path=%2Fold" + std::to_string(i);
    r.action = "create";
    r.path = "/old" + std::to_string(i);
    r.rule = "/demo";
    rows.push_back({r.id, version_2_blob(r)});
  }
  store_rows(dir.path(), rows);
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

TEST_CASE("a pending row this agent cannot read is logged once, with why, and stays; the rest go") {
  // A downgrade leaves rows of a newer encoding; a damaged blob reads as nothing. Either is
  // skipped, never sent and never deleted, and said in the log rather than held silently.
  TempDir dir;
  Receiver receiver;
  auto options = test_options(dir.path());
  create_outbox(options);
  Request readable;
  readable.id = "msg_readable";
  readable.urls = {receiver.url()};
  readable.query = "action=create&path=%2Fok";
  readable.action = "create";
  readable.path = "/ok";
  readable.rule = "/demo";
  std::string newer = encode_request(readable);
  newer[0] = static_cast<char>(kRequestEncoding + 1);
  const std::string damaged = encode_request(readable).substr(0, 12);
  store_rows(dir.path(), {{"msg_newer", newer, 0},
                          {"msg_damaged", damaged, 0},
                          {"msg_newer_retry", newer, 2},
                          {"msg_empty", "", 0},
                          {readable.id, encode_request(readable), 0}});
  LogCollector log;
  auto unreadable = [](const std::vector<nlohmann::json>& lines) {
    std::vector<nlohmann::json> found;
    for (const auto& l : lines) {
      if (l.value("msg", "") == "a pending request cannot be read; it stays in the outbox") {
        found.push_back(l);
      }
    }
    return found;
  };
  auto d = start_dispatcher(options, log);
  REQUIRE(receiver.wait([](const auto& got) { return got.size() == 1; }, 10s));
  CHECK(receiver.received()[0].headers.at("webhook-id") == "msg_readable");
  REQUIRE(log.wait([&](const auto& lines) { return unreadable(lines).size() >= 4; }, 10s));
  d->shutdown();
  const std::string newer_cause = "written by a newer folderhook (this one reads encodings 1 to " +
                                  std::to_string(kRequestEncoding) + ")";
  const std::string damaged_cause = "damaged: truncated or malformed";
  std::map<int64_t, nlohmann::json> lines;  // by seq: 1 to 4, as inserted
  for (const auto& l : unreadable(log.lines())) {
    CHECK(l.value("level", "") == "error");
    CHECK(lines.emplace(l.value("seq", int64_t{0}), l).second);  // once a row
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines.at(1)["encoding"] == kRequestEncoding + 1);
  CHECK(lines.at(1)["cause"] == newer_cause);
  CHECK(lines.at(2)["encoding"] == kRequestEncoding);
  CHECK(lines.at(2)["cause"] == damaged_cause);
  CHECK(lines.at(3)["encoding"] == kRequestEncoding + 1);
  CHECK(lines.at(3)["cause"] == newer_cause);
  CHECK(lines.at(4)["encoding"] == -1);
  CHECK(lines.at(4)["cause"] == damaged_cause);
  std::string error;
  auto outbox = Outbox::open_existing(dir.path(), error);
  REQUIRE(outbox);
  CHECK(outbox->pending_count() == 4);  // each stays, for a newer agent or for inspection
  CHECK(receiver.received().size() == 1);
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
