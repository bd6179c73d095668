// Batches and lane policies (delivery/batch.h, delivery/lane_policy.h): the body a batch sends
// and the settings that carry a folder's pacing into the outbox.
#include "delivery/batch.h"

#include <chrono>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "delivery/lane_policy.h"

using namespace folderhook::delivery;
using nlohmann::json;

namespace {

Request batch_member(const std::string& id, const std::string& path) {
  Request r;
  r.id = id;
  r.method = "POST";
  r.urls = {"http://127.0.0.1:1/hook", "http://127.0.0.1:2/spare"};
  r.fields = {{"action", "create"}, {"path", path}, {"type", "file"}};
  r.body = R"({"action":"create"})";
  r.content_type = "application/json";
  r.headers = {{"Authorization", "Bearer x"}};
  r.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  r.path = path;
  r.rule = "/srv/in";
  return r;
}

}  // namespace

TEST_CASE("a batch body is a JSON array of each member's object with its own id, in order") {
  const Request a = batch_member("msg_a", "/in/a.txt");
  const Request b = batch_member("msg_b", "/in/b\xff.txt");  // not UTF-8: kept as base64 too
  const json body = json::parse(batch_body({&a, &b}));
  REQUIRE(body.is_array());
  REQUIRE(body.size() == 2);
  CHECK(body[0]["id"] == "msg_a");
  CHECK(body[0]["path"] == "/in/a.txt");
  CHECK(body[0]["action"] == "create");
  CHECK(body[1]["id"] == "msg_b");
  CHECK(body[1].contains("path_base64"));
}

TEST_CASE("a row without fields (outbox version 1 or 2) joins a batch with its own JSON body") {
  Request old = batch_member("msg_old", "/in/old.txt");
  old.fields.clear();
  old.body = R"({"action":"update","path":"/in/old.txt"})";
  const json body = json::parse(batch_body({&old}));
  CHECK(body[0]["action"] == "update");
  CHECK(body[0]["id"] == "msg_old");
}

TEST_CASE("a batch request has the batch's id, the first member's URLs, headers and secret") {
  const Request a = batch_member("msg_a", "/in/a.txt");
  const Request b = batch_member("msg_b", "/in/b.txt");
  const Request r = batch_request("msg_batch", {&a, &b});
  CHECK(r.id == "msg_batch");
  CHECK(r.method == "POST");
  CHECK(r.content_type == "application/json");
  CHECK(r.urls == a.urls);
  CHECK(r.headers == a.headers);
  CHECK(r.secret == a.secret);
  CHECK(r.query.empty());
  CHECK(json::parse(r.body).size() == 2);
}

TEST_CASE("new message ids are msg_ and 32 hex digits, and differ") {
  const std::string a = new_request_id();
  const std::string b = new_request_id();
  CHECK(a.size() == 36);
  CHECK(a.rfind("msg_", 0) == 0);
  CHECK(a.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
  CHECK(a != b);
  // Across several refills of the per-thread pool, and on two threads at once.
  std::set<std::string> seen;
  std::vector<std::string> other;
  std::thread t([&] {
    for (int i = 0; i < 1000; ++i) other.push_back(new_request_id());
  });
  for (int i = 0; i < 1000; ++i) seen.insert(new_request_id());
  t.join();
  seen.insert(other.begin(), other.end());
  CHECK(seen.size() == 2000);
}

TEST_CASE("a message id starts with the time in milliseconds, so that later ids sort after") {
  const auto ms_now = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  const uint64_t before = ms_now();
  const std::string id = new_request_id();
  const uint64_t after = ms_now();
  const uint64_t stamped = std::stoull(id.substr(4, 12), nullptr, 16);
  CHECK(stamped >= before);
  CHECK(stamped <= after);
  // Ids a few milliseconds apart sort in that order (the outbox's index keeps them together).
  std::string earlier = id;
  for (int i = 0; i < 3; ++i) {
    const uint64_t mark = ms_now();
    std::string next;
    do {
      next = new_request_id();
    } while (std::stoull(next.substr(4, 12), nullptr, 16) == mark);
    CHECK(next > earlier);
    earlier = next;
  }
}

TEST_CASE("a lane policy goes into a request's settings and comes back the same") {
  LanePolicy policy;
  policy.max_per_second = 0.5;
  policy.batch_max = 10;
  policy.batch_wait = std::chrono::milliseconds(250);
  Request r;
  r.settings = {{"nats_token", "t"}};
  put_lane_policy(policy, r.settings);
  const LanePolicy back = lane_policy(r);
  CHECK(back.max_per_second == 0.5);
  CHECK(back.batch_max == 10);
  CHECK(back.batch_wait == std::chrono::milliseconds(250));
  CHECK(r.settings.front().first == "nats_token");  // the sink's settings are kept
}

TEST_CASE("the default policy adds no settings: lanes and stored rows are as before") {
  Request r;
  put_lane_policy(LanePolicy{}, r.settings);
  CHECK(r.settings.empty());
  const LanePolicy back = lane_policy(r);
  CHECK(back.max_per_second == 0);
  CHECK(back.batch_max == 1);
}

TEST_CASE("unreadable or out-of-range stored settings fall back to what is safe") {
  Request r;
  r.settings = {{"max_per_second", "fast"}, {"batch_max", "100000"}, {"batch_wait_ms", "-5"}};
  const LanePolicy p = lane_policy(r);
  CHECK(p.max_per_second == 0);
  CHECK(p.batch_max == kMaxBatch);
  CHECK(p.batch_wait == std::chrono::milliseconds(0));
}
