// Lane (delivery/lane.h) with a recording owner in place of the dispatcher: first attempts in
// order, retries by due time and apart from first attempts, batches committed before they are
// sent, and a stop that abandons what waits. Real sinks, real receivers on 127.0.0.1.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include "delivery/lane.h"
#include "delivery/outbox.h"
#include "tests/delivery/harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

// What the lane told its owner, in the order it did.
class RecordingOwner : public LaneOwner {
 public:
  explicit RecordingOwner(const Receiver* receiver = nullptr) : receiver_(receiver) {
    options_.timeout = std::chrono::seconds(2);
  }
  const DispatcherOptions& options() const override { return options_; }
  void set_connections(int n) { options_.first_senders = n; }
  std::unique_ptr<SinkSet> make_sinks() const override {
    return std::make_unique<SinkSet>(sink_options(options_));
  }
  void attempt_done(const std::shared_ptr<Item>& item, Lane&, const AttemptResult& result) override {
    std::lock_guard lock(mu_);
    done_.push_back(item->request.query + (result.delivered ? " delivered" : " failed"));
  }
  bool record_batch(const std::string& batch_id, const std::vector<std::string>& ids) override {
    std::lock_guard lock(mu_);
    // What the receiver had before the membership was committed: nothing of the batch.
    batches_.push_back({batch_id, ids, receiver_ ? receiver_->count() : 0});
    return true;
  }
  std::vector<std::string> done() const {
    std::lock_guard lock(mu_);
    return done_;
  }
  struct Recorded {
    std::string id;
    std::vector<std::string> members;
    size_t received_before = 0;
  };
  std::vector<Recorded> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  DispatcherOptions options_;
  const Receiver* receiver_;
  mutable std::mutex mu_;
  std::vector<std::string> done_;
  std::vector<Recorded> batches_;
};

std::shared_ptr<Item> item_to(const std::string& url, int n, int attempts = 0, int64_t next_at_ms = 0) {
  auto item = std::make_shared<Item>();
  item->seq = n + 1;
  item->request.id = "msg_" + std::to_string(n);
  item->request.urls = {url};
  item->request.query = "n=" + std::to_string(n);
  item->attempts = attempts;
  item->next_at_ms = next_at_ms;
  return item;
}

std::vector<std::string> queries(const Receiver& receiver) {
  std::vector<std::string> out;
  for (const Webhook& got : receiver.received()) out.push_back(got.raw_query);
  return out;
}

}  // namespace

TEST_CASE("lane: one first sender hands first attempts to the sink in submission order") {
  Receiver rx;
  RecordingOwner owner;
  Lane lane(owner, LaneShape{1, 1}, 1);  // one request per call: cpp-httplib does not pipeline
  std::vector<std::string> expected;
  for (int n = 0; n < 30; ++n) {
    lane.push_first(item_to(rx.url(), n));
    expected.push_back("n=" + std::to_string(n));
  }
  REQUIRE(wait_until([&] { return owner.done().size() == 30; }, 10s));
  lane.stop();
  CHECK(queries(rx) == expected);
  for (const std::string& d : owner.done()) CHECK(d.find(" delivered") != std::string::npos);
}

TEST_CASE("lane: a retry waits for its due time, and first attempts pass it meanwhile") {
  Receiver rx;
  RecordingOwner owner;
  Lane lane(owner, LaneShape{1, 1}, 1);
  const int64_t due = unix_ms_now() + 600;
  const auto steady_due = std::chrono::steady_clock::now() + 600ms;
  lane.push_retry(item_to(rx.url(), 0, 1, due));
  lane.push_first(item_to(rx.url(), 1));
  REQUIRE(rx.wait_for(2, 5s));
  lane.stop();
  CHECK(queries(rx) == std::vector<std::string>{"n=1", "n=0"});
  // Not before its due time (the lane reads the wall clock, the receiver the steady one: a
  // few milliseconds of slack between the two).
  CHECK(rx.received()[1].at >= steady_due - 10ms);
}

TEST_CASE("lane: retries leave earliest due first, whatever the order they were pushed in") {
  Receiver rx;
  RecordingOwner owner;
  Lane lane(owner, LaneShape{1, 1}, 1);
  const int64_t now = unix_ms_now();
  // Pushed before the retry sender may look: all are due by the time it does.
  lane.push_retry(item_to(rx.url(), 2, 1, now - 10));
  lane.push_retry(item_to(rx.url(), 0, 1, now - 30));
  lane.push_retry(item_to(rx.url(), 1, 1, now - 20));
  REQUIRE(rx.wait_for(3, 5s));
  lane.stop();
  CHECK(queries(rx) == std::vector<std::string>{"n=0", "n=1", "n=2"});
}

TEST_CASE("lane: with batch_max, first attempts leave as one request whose membership is committed first") {
  Receiver rx;
  RecordingOwner owner(&rx);
  LanePolicy policy;
  policy.batch_max = 3;
  policy.batch_wait = std::chrono::seconds(5);  // full batches leave at once; no waiting here
  Lane lane(owner, LaneShape{1, 1}, 1, policy);
  for (int n = 0; n < 3; ++n) lane.push_first(item_to(rx.url(), n));
  REQUIRE(rx.wait_for(1, 5s));
  REQUIRE(wait_until([&] { return owner.done().size() == 1; }, 5s));
  lane.stop();
  const auto batches = owner.batches();
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].members == std::vector<std::string>{"msg_0", "msg_1", "msg_2"});
  CHECK(batches[0].received_before == 0);
  const auto got = rx.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].method == "POST");
  CHECK(got[0].header("webhook-id") == batches[0].id);
}

TEST_CASE("lane: spread over three connections, three formed batches leave at once") {
  // The first batch is held until the test has queued three more behind it; each of those is
  // held until three are open at once: one batch at a time would wait 5 s, past the owner's
  // 2 s timeout.
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  int open = 0;
  Receiver rx([&](const Webhook&, int index) {
    std::unique_lock lock(mu);
    if (index == 0) {
      cv.wait_for(lock, 5s, [&] { return released; });
      return Reply{};
    }
    ++open;
    cv.notify_all();
    cv.wait_for(lock, 5s, [&] { return open >= 3; });
    return Reply{};
  });
  RecordingOwner owner(&rx);
  owner.set_connections(3);
  LanePolicy policy;
  policy.batch_max = 2;
  policy.batch_wait = std::chrono::seconds(5);  // full batches leave at once; no waiting here
  Lane lane(owner, lane_shape(rx.url(), 3, 1), 1, policy);
  for (int n = 0; n < 2; ++n) lane.push_first(item_to(rx.url(), n));
  REQUIRE(rx.wait_for(1, 5s));
  for (int n = 2; n < 8; ++n) lane.push_first(item_to(rx.url(), n));
  {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  REQUIRE(wait_until([&] { return owner.done().size() == 4; }, 10s));
  lane.stop();
  CHECK(owner.batches().size() == 4);
  for (const std::string& d : owner.done()) CHECK(d.find(" delivered") != std::string::npos);
  CHECK(rx.count() == 4);
}

TEST_CASE("lane: streaming, a batch that comes due while another waits for its answer leaves then") {
  // The first batch (full) is held until released; the second (one request) is due after
  // batch_wait. It must not wait for the first's answer, nor for another request.
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  Receiver rx([&](const Webhook&, int index) {
    std::unique_lock lock(mu);
    if (index == 0) cv.wait_for(lock, 5s, [&] { return released; });
    return Reply{};
  });
  RecordingOwner owner(&rx);
  owner.set_connections(3);
  LanePolicy policy;
  policy.batch_max = 4;
  policy.batch_wait = 200ms;
  Lane lane(owner, lane_shape(rx.url(), 3, 1), 1, policy);
  for (int n = 0; n < 4; ++n) lane.push_first(item_to(rx.url(), n));
  REQUIRE(rx.wait_for(1, 5s));
  lane.push_first(item_to(rx.url(), 4));
  // Due 200 ms after it was queued; the first batch's answer would take up to its 2 s timeout.
  CHECK(rx.wait_for(2, 1500ms));
  {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  REQUIRE(wait_until([&] { return owner.done().size() == 2; }, 5s));
  lane.stop();
  CHECK(owner.batches().size() == 2);
}

TEST_CASE("lane: stop abandons a retry that is not due, without sending it") {
  Receiver rx;
  RecordingOwner owner;
  {
    Lane lane(owner, LaneShape{1, 1}, 1);
    lane.push_retry(item_to(rx.url(), 0, 1, unix_ms_now() + 60'000));
    lane.stop();
  }
  CHECK(rx.count() == 0);
  CHECK(owner.done().empty());
}
