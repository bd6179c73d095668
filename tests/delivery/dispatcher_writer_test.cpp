// The dispatcher's writer thread (delivery/dispatcher_writer.cpp), through open_dispatcher:
// rows another process commits are picked up by its poll, and each attempt the writer commits
// is one log line with the delivery's fields.
#include <doctest/doctest.h>

#include "delivery/dispatcher.h"
#include "delivery/outbox.h"
#include "tests/delivery/harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

Request hook_for(const Receiver& rx, const std::string& id) {
  Request r;
  r.id = id;
  r.urls = {rx.url()};
  r.query = "action=create&path=%2Fw%2F" + id;
  r.action = "create";
  r.path = "/w/" + id;
  r.rule = "/w";
  return r;
}

}  // namespace

TEST_CASE("writer: a row another process commits while the dispatcher runs is sent, after its poll") {
  TempDir dir;
  Receiver rx;
  LogCollector log;
  auto d = start_dispatcher(test_options(dir.path()), log);
  // What `folderhook replay` does beside a running agent: its own connection, its own commit.
  std::string error;
  auto other = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(other, error);
  Batch batch;
  batch.inserts.push_back(hook_for(rx, "msg_foreign"));
  std::vector<int64_t> seqs;
  bool full = false;
  REQUIRE(other->commit(batch, seqs, error, full));
  REQUIRE(rx.wait_for(1, 5s));  // the writer polls every 2 s
  CHECK(rx.received()[0].header("webhook-id") == "msg_foreign");
  REQUIRE(log.wait([](const auto& l) { return l.size() >= 1; }, 5s));
  d->shutdown();
  CHECK(other->pending_count() == 0);
  CHECK(rx.count() == 1);
}

TEST_CASE("writer: each attempt is one log line with the delivery's fields; a retry says when next") {
  TempDir dir;
  Receiver rx([](const Webhook&, int) { return Reply{500, "broken"}; });
  LogCollector log;
  auto d = start_dispatcher(test_options(dir.path()), log);
  d->submit({hook_for(rx, "msg_logged")});
  // test_options: two retries, then a dead letter.
  REQUIRE(log.wait([](const auto& l) {
    return std::any_of(l.begin(), l.end(), [](const auto& j) { return j["outcome"] == "dead"; });
  }, 5s));
  d->shutdown();
  const auto lines = log.attempts();
  REQUIRE(lines.size() == 3);
  const std::vector<std::pair<std::string, std::string>> outcomes{
      {"retry", "warn"}, {"retry", "warn"}, {"dead", "error"}};
  for (size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i].dump());
    CHECK(lines[i]["outcome"] == outcomes[i].first);
    CHECK(lines[i]["level"] == outcomes[i].second);
    CHECK(lines[i]["id"] == "msg_logged");
    CHECK(lines[i]["action"] == "create");
    CHECK(lines[i]["path"] == "/w/msg_logged");
    CHECK(lines[i]["url"] == rx.url());
    CHECK(lines[i]["attempt"] == static_cast<int>(i) + 1);
    CHECK(lines[i]["status"] == 500);
    CHECK_FALSE(lines[i]["error"].get<std::string>().empty());
    CHECK(lines[i]["ms"].is_number());
    CHECK(lines[i]["catch_up"] == false);
    CHECK(lines[i].contains("next_at") == (outcomes[i].first == "retry"));
    CHECK_FALSE(lines[i].contains("batch"));
  }
}
