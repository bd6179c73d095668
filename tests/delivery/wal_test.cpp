// The outbox's WAL helpers: the syncer (fdatasync off the writer thread) and the checkpointer
// (checkpoints on their own connection), on a real SQLite database in a temporary directory;
// and what the writer thread commits when.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <tuple>

#include "delivery/dispatcher.h"
#include "delivery/outbox.h"
#include "delivery/wal.h"
#include "harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

// A gap no test waits out, and longer than any machine has been up: the steady clock counts
// from the boot, so a gap counted from its epoch (a default time_point) would be waited out on
// any machine booted less than a gap ago (an hour's gap failed on a fresh CI machine).
constexpr std::chrono::hours kGapNoTestWaitsOut{24 * 365 * 30};

Request create_of(int n, const std::string& url) {
  Request r;
  r.urls = {url};
  r.query = "n=" + std::to_string(n);
  r.action = "create";
  r.path = "/demo/f" + std::to_string(n);
  r.rule = "/demo";
  return r;
}

Batch one_insert(int n) {
  Request r = create_of(n, "http://127.0.0.1:9/hook");
  r.id = "id-" + std::to_string(n);
  r.query += "&pad=" + std::string(2000, 'x');
  Batch b;
  b.inserts.push_back(std::move(r));
  return b;
}

// The database file itself: it grows only when a checkpoint copies the WAL into it.
off_t db_size(const std::string& dir) {
  struct stat st {};
  REQUIRE(::stat((dir + "/outbox.db").c_str(), &st) == 0);
  return st.st_size;
}

// A new outbox in a temporary directory, and the size of its database file before any commit.
struct NewOutbox {
  NewOutbox() {
    std::string error;
    outbox = Outbox::open(dir.path(), error);
    REQUIRE_MESSAGE(outbox, error);
    before = db_size(dir.path());
  }
  off_t size_now() const { return db_size(dir.path()); }

  TempDir dir;
  std::unique_ptr<Outbox> outbox;
  off_t before = 0;
};

// 40 commits of a 2 KB request each: far past 8 WAL frames, and 80 KB of rows.
void commit_40_requests(Outbox& outbox) {
  std::string error;
  std::vector<int64_t> seqs;
  bool full = false;
  for (int i = 0; i < 40; ++i) REQUIRE(outbox.commit(one_insert(i), seqs, error, full));
}

size_t count_delivered(const std::vector<nlohmann::json>& lines) {
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [](const auto& l) {
    return l.value("msg", "") == "delivery" && l.value("outcome", "") == "delivered";
  }));
}

}  // namespace

TEST_CASE("the checkpointer copies the WAL back on its own thread once it has grown") {
  NewOutbox o;
  LogCollector log;
  std::string error;
  auto checkpointer = Checkpointer::start(o.dir.path() + "/outbox.db", o.outbox->handle(),
                                          log.logger(), error, 8);
  REQUIRE(checkpointer);
  commit_40_requests(*o.outbox);
  REQUIRE(wait_until([&] { return checkpointer->checkpoints() > 0; }, 10s));
  REQUIRE(wait_until([&] { return o.size_now() >= o.before + 40 * 1024; }, 10s));
  checkpointer.reset();
  for (const auto& l : log.lines()) CHECK(l.value("level", "") != "warn");
}

TEST_CASE("without a checkpoint the writer's commits stay in the WAL") {
  // The baseline the test above relies on: the database file grows only by a checkpoint.
  NewOutbox o;
  sqlite3_wal_autocheckpoint(o.outbox->handle(), 0);
  commit_40_requests(*o.outbox);
  CHECK(o.size_now() == o.before);
}

namespace {

// An outbox that commits without syncing, and a syncer for its WAL with `min_gap`.
struct SyncedOutbox {
  explicit SyncedOutbox(std::chrono::milliseconds min_gap = WalSyncer::kMinGap) {
    outbox = Outbox::open(dir.path(), error);
    REQUIRE(outbox);
    REQUIRE(outbox->set_synced(false, error));
    syncer = WalSyncer::start(dir.path() + "/outbox.db-wal", log.logger(), error, min_gap);
    REQUIRE(syncer);
  }

  TempDir dir;
  std::string error;
  std::unique_ptr<Outbox> outbox;
  LogCollector log;
  std::unique_ptr<WalSyncer> syncer;
};

}  // namespace

TEST_CASE("the syncer syncs the WAL for each burst of requests, and flush waits for it") {
  SyncedOutbox o;
  auto [outbox, syncer, error, log] = std::tie(o.outbox, o.syncer, o.error, o.log);
  CHECK(syncer->syncs() == 0);
  std::vector<int64_t> seqs;
  bool full = false;
  REQUIRE(outbox->commit(one_insert(1), seqs, error, full));
  syncer->request();
  syncer->flush();
  CHECK(syncer->syncs() == 1);
  // Requests made while a sync runs share the next one: never more syncs than requests.
  for (int i = 2; i < 50; ++i) {
    REQUIRE(outbox->commit(one_insert(i), seqs, error, full));
    syncer->request();
  }
  syncer->flush();
  CHECK(syncer->syncs() >= 2);
  CHECK(syncer->syncs() <= 49);
  CHECK(syncer->entry_syncs() == 1);  // the directory once, for the one WAL file
  CHECK(log.lines().empty());
}

TEST_CASE("the syncer gathers a busy moment's commits into one sync, and flush does not wait") {
  // A second sync before the flush would be the gap not kept; a first one held back, the gap
  // counted from before any sync.
  SyncedOutbox o(kGapNoTestWaitsOut);
  auto [outbox, syncer, error, log] = std::tie(o.outbox, o.syncer, o.error, o.log);
  std::vector<int64_t> seqs;
  bool full = false;
  // The first commit after a quiet time is synced at once.
  REQUIRE(outbox->commit(one_insert(0), seqs, error, full));
  syncer->request();
  REQUIRE(wait_until([&] { return syncer->syncs() == 1; }, 10s));
  // 200 ms of commits, far longer than a sync takes: without the gap each sync's end starts
  // the next, for the commits made meanwhile.
  const auto start = std::chrono::steady_clock::now();
  int commits = 0;
  while (std::chrono::steady_clock::now() - start < 200ms) {
    REQUIRE(outbox->commit(one_insert(++commits), seqs, error, full));
    syncer->request();
  }
  CHECK(syncer->syncs() == 1);
  // A flush syncs them all, in one, without waiting out the gap (were it waited out, the test
  // would stop at ctest's timeout).
  syncer->flush();
  CHECK(syncer->syncs() == 2);
  CHECK(log.lines().empty());
}

TEST_CASE("the syncer follows a WAL file that was replaced") {
  TempDir dir;
  const std::string wal = dir.path() + "/outbox.db-wal";
  { std::ofstream(wal) << "first"; }
  LogCollector log;
  std::string error;
  auto syncer = WalSyncer::start(wal, log.logger(), error);
  REQUIRE(syncer);
  // Replaced, then replaced again: each new file's name is synced too.
  uint64_t replaced = 0;
  for (const char* content : {"second", "third"}) {
    CAPTURE(content);
    REQUIRE(::unlink(wal.c_str()) == 0);
    { std::ofstream(wal) << content; }
    syncer->request();
    syncer->flush();
    ++replaced;
    CHECK(syncer->syncs() == replaced);
    CHECK(syncer->entry_syncs() == replaced);
  }
  CHECK(log.lines().empty());
}

TEST_CASE("a syncer for a WAL that does not exist is refused with the path in the error") {
  TempDir dir;
  LogCollector log;
  std::string error;
  auto syncer = WalSyncer::start(dir.path() + "/missing-wal", log.logger(), error);
  CHECK(syncer == nullptr);
  CHECK(error.find("missing-wal") != std::string::npos);
}

TEST_CASE("the dispatcher syncs its commits and checkpoints off the writer thread") {
  TempDir dir;
  Receiver receiver([](const Webhook&, int) { return Reply(200); });
  auto options = test_options(dir.path());
  LogCollector log;
  auto d = start_dispatcher(options, log);
  const std::string url = receiver.url();
  for (int i = 0; i < 20; ++i) {
    std::vector<Request> one;
    one.push_back(create_of(i, url));
    d->submit(std::move(one));
  }
  REQUIRE(receiver.wait([](const auto& got) { return got.size() >= 20; }, 10s));
  d->shutdown();
  const auto lines = log.lines();
  auto stopped = std::find_if(lines.begin(), lines.end(), [](const auto& l) {
    return l.value("msg", "") == "outbox writer stopped";
  });
  REQUIRE(stopped != lines.end());
  CHECK(stopped->value("syncs", 0) >= 1);
  CHECK(stopped->contains("checkpoints"));
  for (const auto& l : lines) {
    CHECK(l.value("msg", "") != "outbox commits are synced on the writer thread");
    CHECK(l.value("msg", "") != "outbox checkpoints run on the writer thread");
  }
}

TEST_CASE("attempt results wait briefly to share a commit instead of one commit each") {
  TempDir dir;
  Receiver receiver([](const Webhook&, int) { return Reply(200); });
  auto options = test_options(dir.path());
  // Long enough that the whole burst is sent within a few waits even on a slow machine.
  options.result_delay = 500ms;
  LogCollector log;
  auto d = start_dispatcher(options, log);
  constexpr int kCount = 400;
  std::vector<Request> burst;
  for (int i = 0; i < kCount; ++i) {
    burst.push_back(create_of(i, receiver.url()));
  }
  d->submit(std::move(burst));  // one commit of inserts; then a result per attempt
  REQUIRE(log.wait([&](const auto& lines) { return count_delivered(lines) == kCount; }, 30s));
  d->shutdown();
  const auto lines = log.lines();
  auto stopped = std::find_if(lines.begin(), lines.end(), [](const auto& l) {
    return l.value("msg", "") == "outbox writer stopped";
  });
  REQUIRE(stopped != lines.end());
  // Committed as they come, the results took 62 commits on a quick machine (more on a slow
  // one); waiting for company, one commit per 500 ms of sending plus the inserts' one.
  CHECK(stopped->value("commits", 0) <= 10);
}

TEST_CASE("new requests that come within the commit gap share a commit; after a quiet time, at once") {
  TempDir dir;
  Receiver receiver([](const Webhook&, int) { return Reply(200); });
  const std::string url = receiver.url();
  SUBCASE("a request after a quiet time does not wait out the gap") {
    auto options = test_options(dir.path());
    options.commit_gap = kGapNoTestWaitsOut;  // waited out, the request would not arrive
    LogCollector log;
    auto d = start_dispatcher(options, log);
    std::vector<Request> one;
    one.push_back(create_of(0, url));
    d->submit(std::move(one));
    CHECK(receiver.wait([](const auto& got) { return got.size() == 1; }, 10s));
    d->shutdown();
  }
  SUBCASE("a request each millisecond is committed once per gap") {
    auto options = test_options(dir.path());
    options.commit_gap = 100ms;
    options.result_delay = std::chrono::hours(1);  // results go only with new requests
    LogCollector log;
    auto d = start_dispatcher(options, log);
    const auto start = std::chrono::steady_clock::now();
    int submitted = 0;
    while (std::chrono::steady_clock::now() - start < 500ms) {
      std::vector<Request> one;
      one.push_back(create_of(submitted++, url));
      d->submit(std::move(one));
      std::this_thread::sleep_for(1ms);  // the pace of the operations, not a wait for one
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(receiver.wait([&](const auto& got) { return got.size() == size_t(submitted); }, 30s));
    d->shutdown();
    const auto lines = log.lines();
    auto stopped = std::find_if(lines.begin(), lines.end(), [](const auto& l) {
      return l.value("msg", "") == "outbox writer stopped";
    });
    REQUIRE(stopped != lines.end());
    // One commit per gap while they came, one for the last of them, one at shutdown for the
    // last results. Committed as they came, they took one commit each or close to it.
    const auto gaps = elapsed / options.commit_gap;
    CAPTURE(submitted);
    CHECK(stopped->value("commits", 0) <= gaps + 3);
  }
}
