// Outbox (delivery/outbox.h) on a real SQLite database in a temporary state_dir: what a group
// commit writes and what the reads give back (pending rows, first pages, due retries, dead
// letters for the email, batch membership, a full disk).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>

#include "delivery/outbox.h"
#include "tests/delivery/harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

Request pending(const std::string& id, const std::string& rule = "/w") {
  Request r;
  r.id = id;
  r.urls = {"http://127.0.0.1:1/hook"};
  r.query = "action=create&path=%2Fw%2F" + id;
  r.action = "create";
  r.path = "/w/" + id;
  r.rule = rule;
  return r;
}

// An outbox in a fresh state_dir, and its commits checked as they go.
struct OutboxFixture {
  OutboxFixture() {
    std::string error;
    outbox = Outbox::open(dir.path(), error);
    REQUIRE_MESSAGE(outbox, error);
  }
  std::vector<int64_t> commit(const Batch& batch) {
    std::vector<int64_t> seqs;
    std::string error;
    bool full = false;
    REQUIRE_MESSAGE(outbox->commit(batch, seqs, error, full), error);
    return seqs;
  }
  std::vector<int64_t> insert(const std::vector<std::string>& ids) {
    Batch batch;
    for (const auto& id : ids) batch.inserts.push_back(pending(id));
    return commit(batch);
  }
  std::vector<std::string> pending_ids() {
    std::vector<PendingRow> rows;
    std::string error;
    REQUIRE(outbox->load_pending(0, rows, error));
    std::vector<std::string> out;
    for (const auto& row : rows) out.push_back(row.request.id);
    return out;
  }
  PendingRow row(int64_t seq) {
    std::optional<PendingRow> out;
    std::string error;
    REQUIRE(outbox->load_row(seq, out, error));
    REQUIRE(out.has_value());
    return *out;
  }
  TempDir dir;
  std::unique_ptr<Outbox> outbox;
};

}  // namespace

TEST_CASE("outbox: inserts get rising seqs in order; an id already pending is ignored") {
  OutboxFixture f;
  const auto seqs = f.insert({"a", "b"});
  REQUIRE(seqs.size() == 2);
  CHECK(seqs[0] < seqs[1]);
  CHECK(f.insert({"a"}) == std::vector<int64_t>{0});  // the same delivery committed twice
  CHECK(f.pending_ids() == std::vector<std::string>{"a", "b"});
  CHECK(f.outbox->max_seq() == seqs[1]);
  CHECK(f.outbox->pending_count() == 2);
  const PendingRow b = f.row(seqs[1]);
  CHECK(b.request.query == pending("b").query);
  CHECK(b.request.rule == "/w");
  CHECK(b.attempts == 0);
}

TEST_CASE("outbox: a retry is stored; first pages skip it, due retries and the next one find it") {
  OutboxFixture f;
  const auto seqs = f.insert({"fresh", "later", "due"});
  const int64_t now = unix_ms_now();
  Batch retries;
  retries.retries.push_back(RetryUpdate{"later", 1, now + 60'000, 503, "busy"});
  retries.retries.push_back(RetryUpdate{"due", 2, now - 1, 500, "broken"});
  f.commit(retries);

  std::vector<PendingRow> first;
  std::string error;
  REQUIRE(f.outbox->load_first_page(0, 10, first, error));
  REQUIRE(first.size() == 1);
  CHECK(first[0].request.id == "fresh");
  std::vector<int64_t> due;
  REQUIRE(f.outbox->due_retry_seqs(now, 10, due, error));
  CHECK(due == std::vector<int64_t>{seqs[2]});
  CHECK(f.outbox->next_retry_after(now) == now + 60'000);
  const PendingRow later = f.row(seqs[1]);
  CHECK(later.attempts == 1);
  CHECK(later.next_at_ms == now + 60'000);
}

TEST_CASE("outbox: delivered rows leave; dead ones become dead letters, summarized per rule until mailed") {
  OutboxFixture f;
  f.insert({"ok", "d1", "d2", "d3"});
  Batch outcome;
  outcome.delivered.push_back({"ok"});
  for (const auto& [id, rule] : std::vector<std::pair<std::string, std::string>>{
           {"d1", "/one"}, {"d2", "/one"}, {"d3", "/two"}}) {
    outcome.dead.push_back(DeadLetter{pending(id, rule), 3, 500, "broken", "answer", 1000});
  }
  f.commit(outcome);
  CHECK(f.outbox->pending_count() == 0);

  std::vector<DeadSummary> summaries;
  std::string error;
  REQUIRE(f.outbox->dead_summaries(summaries, error));
  REQUIRE(summaries.size() == 2);
  const auto one = std::find_if(summaries.begin(), summaries.end(),
                                [](const DeadSummary& s) { return s.rule == "/one"; });
  REQUIRE(one != summaries.end());
  CHECK(one->count == 2);
  CHECK(one->last_status == 500);
  CHECK(one->last_error == "broken");
  CHECK(one->sample_paths.size() == 2);

  CHECK(f.outbox->last_notified_ms("/one") == 0);
  REQUIRE(f.outbox->mark_notified(*one, 1234, error));
  CHECK(f.outbox->last_notified_ms("/one") == 1234);
  summaries.clear();
  REQUIRE(f.outbox->dead_summaries(summaries, error));
  REQUIRE(summaries.size() == 1);
  CHECK(summaries[0].rule == "/two");
}

TEST_CASE("outbox: a batch mark names each member's batch until that member is delivered") {
  OutboxFixture f;
  const auto seqs = f.insert({"m1", "m2"});
  Batch mark;
  mark.batch_marks.push_back(BatchMark{"msg_batch", {"m1", "m2"}});
  f.commit(mark);
  CHECK(f.row(seqs[0]).batch_id == "msg_batch");
  CHECK(f.row(seqs[1]).batch_size == 2);
  Batch delivered;
  delivered.delivered.push_back({"m1"});
  f.commit(delivered);
  CHECK(f.pending_ids() == std::vector<std::string>{"m2"});
  // Still marked: a start after a crash regroups what is left of the batch (lane.h).
  CHECK(f.row(seqs[1]).batch_id == "msg_batch");
}

TEST_CASE("outbox: a delivered row named by its seq leaves only when its id matches that row") {
  OutboxFixture f;
  const auto seqs = f.insert({"a", "b", "c"});
  Batch done;
  done.delivered.push_back({"a", seqs[0]});
  done.delivered.push_back({"b", seqs[2]});  // a seq that is another row's: neither leaves
  done.delivered.push_back({"c"});           // seq not known: found by its id
  f.commit(done);
  CHECK(f.pending_ids() == std::vector<std::string>{"b"});
}

TEST_CASE("outbox: batch marks written before a restart still name their batch after it") {
  TempDir dir;
  std::vector<int64_t> seqs;
  {
    std::string error;
    auto outbox = Outbox::open(dir.path(), error);
    REQUIRE_MESSAGE(outbox, error);
    Batch insert;
    insert.inserts = {pending("m1"), pending("m2"), pending("lone")};
    bool full = false;
    REQUIRE(outbox->commit(insert, seqs, error, full));
    Batch mark;
    mark.batch_marks.push_back(BatchMark{"msg_batch", {"m1", "m2"}});
    std::vector<int64_t> none;
    REQUIRE(outbox->commit(mark, none, error, full));
  }
  std::string error;
  auto reopened = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(reopened, error);
  std::vector<PendingRow> first;
  REQUIRE(reopened->load_first_page(0, 10, first, error));
  REQUIRE(first.size() == 3);
  CHECK(first[0].batch_id == "msg_batch");
  CHECK(first[1].batch_size == 2);
  CHECK(first[2].batch_id.empty());
  // A member delivered after the restart leaves its batch too: sent again later (a replay of
  // its dead letter, say), it is a delivery of its own.
  Batch done;
  done.delivered.push_back({"m1", seqs[0]});
  std::vector<int64_t> again;
  bool full = false;
  REQUIRE(reopened->commit(done, again, error, full));
  Batch replay;
  replay.inserts = {pending("m1")};
  REQUIRE(reopened->commit(replay, again, error, full));
  REQUIRE(again.size() == 1);
  std::optional<PendingRow> m1;
  REQUIRE(reopened->load_row(again[0], m1, error));
  REQUIRE(m1.has_value());
  CHECK(m1->batch_id.empty());
  std::optional<PendingRow> m2;
  REQUIRE(reopened->load_row(seqs[1], m2, error));
  REQUIRE(m2.has_value());
  CHECK(m2->batch_id == "msg_batch");
}

TEST_CASE("outbox: a commit that fills the disk rolls back whole and says the disk is full") {
  OutboxFixture f;
  f.insert({"before"});
  f.outbox->limit_pages_for_test(20);  // room for the schema and a few rows, not 3 MB
  Batch big;
  for (int i = 0; i < 50; ++i) {
    Request r = pending("big" + std::to_string(i));
    r.body = std::string(64 * 1024, 'x');
    big.inserts.push_back(std::move(r));
  }
  std::vector<int64_t> seqs;
  std::string error;
  bool full = false;
  CHECK_FALSE(f.outbox->commit(big, seqs, error, full));
  CHECK(full);
  CHECK_FALSE(error.empty());
  CHECK(seqs.empty());
  CHECK(f.pending_ids() == std::vector<std::string>{"before"});
}

TEST_CASE("outbox: open_existing refuses a state_dir without an outbox, and creates nothing") {
  TempDir dir;
  const std::string missing = dir.path() + "/typo";
  std::string error;
  CHECK(Outbox::open_existing(missing, error) == nullptr);
  CHECK_FALSE(error.empty());
  struct stat st {};
  CHECK(::stat(missing.c_str(), &st) != 0);
}
