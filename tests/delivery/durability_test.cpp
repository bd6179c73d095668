// Outbox durability, dead letters with email, status and replay, test-hook.
#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>

#include "delivery/dispatcher.h"
#include "delivery/outbox.h"
#include "delivery/dead_letters.h"
#include "delivery/status.h"
#include "harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

const ReplayRewrite kAsStored = [](const Request& stored) { return stored; };

Request make(const std::vector<std::string>& urls, const std::string& query,
             const std::string& path, const std::string& rule = "/demo") {
  Request r;
  r.urls = urls;
  r.query = query;
  r.action = "create";
  r.path = path;
  r.rule = rule;
  return r;
}

size_t count_outcome(const std::vector<nlohmann::json>& lines, const std::string& outcome) {
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
    return l.value("msg", "") == "delivery" && l.value("outcome", "") == outcome;
  }));
}

}  // namespace

TEST_CASE("what was pending at shutdown is delivered after reopening, with the same ids") {
  TempDir dir;
  const int port = unused_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  constexpr int kCount = 5000;
  auto options = test_options(dir.path());
  options.retry = std::vector<std::chrono::milliseconds>(20, 300ms);
  std::map<std::string, std::string> id_of_query;  // from the first run's attempt logs
  {
    LogCollector log;
    std::string error;
    auto d = open_dispatcher(options, log.logger(), error);
    REQUIRE(d);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCount; i += 100) {  // a burst, as the agent would submit it
      std::vector<Request> batch;
      for (int j = i; j < i + 100; ++j) {
        batch.push_back(make({url}, "n=" + std::to_string(j), "/demo/f" + std::to_string(j)));
      }
      d->submit(std::move(batch));
    }
    // Some have been attempted (refused) by now; all are committed by shutdown.
    REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "retry") >= 100; }, 10s));
    d->shutdown();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start).count();
    for (const auto& l : log.lines()) {
      if (l["msg"] == "outbox writer stopped") {
        MESSAGE("first run: " << kCount << " submitted in " << ms << " ms; " << l["commits"]
                              << " group commits, largest " << l["largest_commit"]);
      }
    }
    for (const auto& l : log.attempts()) {
      id_of_query[l["path"].get<std::string>().substr(7)] = l["id"];
    }
    auto status = [&] {
      std::string e;
      return read_status(dir.path(), e);
    }();
    CHECK(status["pending"] == kCount);
    CHECK(status["retrying"].get<int>() >= 100);
    CHECK(status["oldest_pending_age_s"].get<int>() >= 0);
    REQUIRE(status["urls"].size() == 1);
    CHECK(status["urls"][0]["consecutive_failures"].get<int>() >= 100);
    CHECK(status["urls"][0]["last_success_at"].is_null());
  }
  Receiver rx({}, port);
  LogCollector log;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE(d);
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == kCount; }, 30s));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  MESSAGE("second run: " << kCount << " delivered in " << ms << " ms (includes retry waits of "
                         << "the attempted ones)");
  d->shutdown();
  std::set<std::string> queries;
  size_t same_id = 0;
  for (const auto& r : rx.received()) {
    queries.insert(r.raw_query);
    const auto it = id_of_query.find(r.raw_query.substr(2));
    if (it != id_of_query.end()) {
      CHECK(it->second == r.headers.at("webhook-id"));
      ++same_id;
    }
  }
  CHECK(queries.size() == kCount);
  CHECK(same_id >= 100);
  std::string e;
  const auto status = read_status(dir.path(), e);
  CHECK(status["pending"] == 0);
  CHECK(status["urls"][0]["consecutive_failures"] == 0);
  CHECK(status["urls"][0]["last_success_at"].is_string());
}

TEST_CASE("status reports a url_stats table it cannot read through as an error, not a shorter list") {
  TempDir dir;
  const std::string db_path = dir.path() + "/outbox.db";
  int page_size = 0;
  {
    std::string error;
    auto outbox = Outbox::open(dir.path(), error);
    REQUIRE(outbox);
    // The URL rows last, so that the file's last page is a leaf of url_stats.
    Batch batch;
    for (int i = 0; i < 400; ++i) {
      const std::string url = "http://h/" + std::to_string(1000 + i) + std::string(200, 'x');
      batch.url_outcomes.push_back(UrlOutcome{url, 200, "", true, 1});
    }
    std::vector<int64_t> seqs;
    bool full = false;
    REQUIRE(outbox->commit(batch, seqs, error, full));
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(outbox->handle(), "PRAGMA page_size", -1, &st, nullptr) ==
            SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    page_size = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }  // closed: the WAL is folded back into outbox.db
  std::string e;
  const auto before = read_status(dir.path(), e);
  REQUIRE(before.is_object());
  CHECK(before["urls"].size() == 400);
  // A damaged last page: the rows before it read, then the step fails.
  struct stat st {};
  REQUIRE(::stat(db_path.c_str(), &st) == 0);
  {
    std::fstream f(db_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(st.st_size - page_size);
    f << std::string(static_cast<size_t>(page_size), '\xff');
    REQUIRE(f.good());
  }
  const auto after = read_status(dir.path(), e);
  CHECK(after.is_null());
  CHECK(e.find("malformed") != std::string::npos);
}

TEST_CASE("a schedule that runs out makes dead letters and one email; replay sends them again") {
  SmtpServer smtp;
  REQUIRE_MESSAGE(smtp.started(), "python3 -m aiosmtpd did not start (apt install python3-aiosmtpd)");
  TempDir dir;
  const int port = unused_port();
  const std::string url = "http://user:hunter2@127.0.0.1:" + std::to_string(port) + "/hook";
  auto options = test_options(dir.path());
  options.notify.smtp_url = smtp.url();
  options.notify.from = "folderhook@example.com";
  options.notify.to = {"ops@example.com", "oncall@example.com"};
  LogCollector log;
  std::string error;
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE(d);
  d->submit({make({url}, "n=1", "/demo/one.txt"), make({url}, "n=2", "/demo/two words.txt"),
             make({url}, "n=3", "/demo/three.txt")});
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "dead") == 3; }, 10s));
  for (const auto& l : log.attempts()) {
    CHECK(l["url"] == "http://***@127.0.0.1:" + std::to_string(port) + "/hook");
    if (l["outcome"] == "dead") {
      CHECK(l["attempt"] == 3);
      CHECK(l["level"] == "error");
    }
  }
  const bool mailed = wait_until([&] { return !smtp.messages().empty(); }, 10s);
  for (const auto& l : log.lines()) {
    if (!mailed && l["msg"] != "delivery") MESSAGE(l.dump());
  }
  REQUIRE(mailed);
  // A second email could only come after min_interval (an hour): none may follow.
  CHECK_FALSE(wait_until([&] { return smtp.messages().size() > 1; }, 1s));
  const std::string mail = smtp.messages()[0];
  CHECK(mail.find("Subject: folderhook: 3 webhook deliveries failed for /demo") != std::string::npos);
  CHECK(mail.find("To: ops@example.com, oncall@example.com") != std::string::npos);
  CHECK(mail.find("/demo/two words.txt") != std::string::npos);
  CHECK(mail.find("http://***@127.0.0.1") != std::string::npos);
  CHECK(mail.find("hunter2") == std::string::npos);
  CHECK(mail.find("connection refused") != std::string::npos);

  std::string e;
  auto status = read_status(dir.path(), e);
  CHECK(status["dead_letters"] == 3);
  CHECK(status["dead_letters_not_emailed"] == 0);
  CHECK(status["pending"] == 0);

  // The receiver comes back; replay while the dispatcher runs sends each with its old id.
  std::set<std::string> dead_ids;
  for (const auto& l : log.attempts()) {
    if (l["outcome"] == "dead") dead_ids.insert(l["id"]);
  }
  Receiver rx({}, port);
  CHECK(replay_dead_letters(dir.path(), std::nullopt, std::nullopt, kAsStored, e) == 3);
  REQUIRE(rx.wait([](const auto& v) { return v.size() == 3; }, 10s));
  std::set<std::string> got_ids;
  for (const auto& r : rx.received()) {
    got_ids.insert(r.headers.at("webhook-id"));
    CHECK(r.headers.at("authorization").rfind("Basic ", 0) == 0);
  }
  CHECK(got_ids == dead_ids);
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 3; }, 5s));
  d->shutdown();
  status = read_status(dir.path(), e);
  CHECK(status["dead_letters"] == 0);
  CHECK(status["pending"] == 0);
}

TEST_CASE("replay selects by time and by id") {
  TempDir dir;
  LogCollector log;
  auto options = test_options(dir.path());
  options.retry = {};
  options.retry = {50ms};
  const std::string url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/hook";
  std::string error;
  {
    auto d = open_dispatcher(options, log.logger(), error);
    REQUIRE(d);
    d->submit({make({url}, "n=1", "/a"), make({url}, "n=2", "/b")});
    REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "dead") == 2; }, 5s));
    d->shutdown();
  }
  std::string id;
  for (const auto& l : log.attempts()) {
    if (l["outcome"] == "dead" && l["path"] == "/b") id = l["id"];
  }
  CHECK(replay_dead_letters(dir.path(), unix_ms_now() + 60'000, std::nullopt, kAsStored, error) == 0);
  CHECK(replay_dead_letters(dir.path(), std::nullopt, std::string("msg_nope"), kAsStored, error) == 0);
  CHECK(replay_dead_letters(dir.path(), std::nullopt, id, kAsStored, error) == 1);
  const auto status = read_status(dir.path(), error);
  CHECK(status["pending"] == 1);
  CHECK(status["dead_letters"] == 1);
  TempDir empty;
  CHECK(replay_dead_letters(empty.path(), std::nullopt, std::nullopt, kAsStored, error) == -1);
  CHECK(error.find("no outbox") != std::string::npos);
  CHECK(read_status(empty.path(), error).is_null());
}

TEST_CASE("test-hook sends to every URL and reports each status and time") {
  Receiver up;
  Receiver teapot([](const Webhook&, int) { return Reply{418}; });
  const std::string down = "http://127.0.0.1:" + std::to_string(unused_port()) + "/";
  TempDir dir;
  Request r = make({up.url(), teapot.url(), down}, "action=create&test=1", "/demo/x");
  const auto results = send_test(r, test_options(dir.path()));
  REQUIRE(results.size() == 3);
  CHECK(results[0].ok);
  CHECK(results[0].status == 200);
  CHECK(results[1].status == 418);
  CHECK_FALSE(results[1].ok);
  CHECK(results[1].error == "HTTP 418");
  CHECK_FALSE(results[2].ok);
  CHECK(results[2].status == 0);
  CHECK(results[2].error.find("connection refused") != std::string::npos);
  CHECK(up.received()[0].target == "/hook?action=create&test=1");
  CHECK(up.received()[0].headers.count("webhook-id") == 1);
}

TEST_CASE("a full outbox reports disk full and takes the same batch once space returns") {
  TempDir dir;
  std::string error;
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE(outbox);
  Batch batch;
  for (int i = 0; i < 200; ++i) {
    Request r;
    r.id = "msg_" + std::to_string(i);
    r.urls = {"http://h/"};
    r.body = std::string(4096, 'x');
    batch.inserts.push_back(r);
  }
  outbox->limit_pages_for_test(20);
  std::vector<int64_t> seqs;
  bool disk_full = false;
  CHECK_FALSE(outbox->commit(batch, seqs, error, disk_full));
  CHECK(disk_full);
  CHECK(error.find("full") != std::string::npos);
  std::vector<PendingRow> rows;
  REQUIRE(outbox->load_pending(0, rows, error));
  CHECK(rows.empty());  // rolled back as a whole
  outbox->limit_pages_for_test(1'000'000);
  REQUIRE(outbox->commit(batch, seqs, error, disk_full));
  CHECK(seqs.size() == 200);
  REQUIRE(outbox->load_pending(0, rows, error));
  CHECK(rows.size() == 200);
  CHECK(rows[0].request.id == "msg_0");
}
