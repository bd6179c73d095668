// The in-memory window (delivery/window.h): at most `window` committed requests in memory, the
// rest read back from the outbox in order, against real receivers on 127.0.0.1.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "delivery/dispatcher.h"
#include "harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

Request numbered(const std::string& url, int n) {
  Request r;
  r.urls = {url};
  r.query = "n=" + std::to_string(n);
  r.action = "create";
  r.path = "/demo/" + std::to_string(n) + ".txt";
  r.rule = "/demo";
  return r;
}

int number_of(const Webhook& r) { return std::stoi(r.raw_query.substr(2)); }

size_t count_msg(const std::vector<nlohmann::json>& lines, const std::string& outcome) {
  size_t n = 0;
  for (const auto& l : lines) {
    if (l.value("msg", "") == "delivery" && l.value("outcome", "") == outcome) ++n;
  }
  return n;
}

// One first sender (strict order), every retry read back from the outbox.
DispatcherOptions window_options(const std::string& state_dir, size_t window) {
  DispatcherOptions o = test_options(state_dir);
  o.window = window;
  o.first_senders = 1;
  o.retry_in_memory = std::chrono::milliseconds(0);
  o.retry = std::vector<std::chrono::milliseconds>(20, 100ms);
  return o;
}

// The numbers in the order their first attempts arrived.
std::vector<int> first_attempt_order(const std::vector<Webhook>& received) {
  std::set<int> seen;
  std::vector<int> order;
  for (const auto& r : received) {
    if (seen.insert(number_of(r)).second) order.push_back(number_of(r));
  }
  return order;
}

std::vector<int> zero_to(int count) {
  std::vector<int> v;
  for (int i = 0; i < count; ++i) v.push_back(i);
  return v;
}

// Submits requests 0 .. count-1 to `url` in one batch.
void submit_numbered(Dispatcher& d, const std::string& url, int count) {
  std::vector<Request> batch;
  for (int i = 0; i < count; ++i) batch.push_back(numbered(url, i));
  d.submit(std::move(batch));
}

// Waits for `count` deliveries, then shuts the dispatcher down: its memory figures at the end.
MemoryFigures deliver_all(Dispatcher& d, LogCollector& log, int count,
                          std::chrono::seconds timeout) {
  const auto all_delivered = [count](const auto& l) {
    return count_msg(l, "delivered") == static_cast<size_t>(count);
  };
  REQUIRE(log.wait(all_delivered, timeout));
  const MemoryFigures memory = d.memory();
  d.shutdown();
  return memory;
}

}  // namespace

TEST_CASE("a window of 50 delivers 2,000 to a refusing then accepting receiver exactly once, in order") {
  constexpr int kCount = 2000;
  constexpr int kRefused = 600;
  TempDir dir;
  // 503 to the first 600 requests it receives (first attempts and retries alike), then 200.
  Receiver rx([](const Webhook&, int index) { return Reply(index < kRefused ? 503 : 200); });
  LogCollector log;
  auto d = start_dispatcher(window_options(dir.path(), 50), log);
  submit_numbered(*d, rx.url(), kCount);
  const MemoryFigures memory = deliver_all(*d, log, kCount, 60s);

  const auto received = rx.received();
  std::map<int, int> accepted;  // number -> times answered 200
  for (size_t i = kRefused; i < received.size(); ++i) ++accepted[number_of(received[i])];
  CHECK(accepted.size() == kCount);
  for (const auto& [n, times] : accepted) CHECK_MESSAGE(times == 1, "n=" << n);
  CHECK(first_attempt_order(received) == zero_to(kCount));
  CHECK(count_msg(log.lines(), "retry") >= 1);
  CHECK(memory.window == 50);
  CHECK(memory.peak >= 1);
  CHECK(memory.peak <= 50);
  // The rest waited in the outbox: first attempts beyond the window and every retry.
  CHECK(memory.read_back >= kCount - 50);
}

TEST_CASE("a restart with a large pending outbox reads it in pages and delivers everything in order") {
  constexpr int kCount = 3000;
  TempDir dir;
  const int port = unused_port();
  std::string url;
  {
    // A receiver that never answers: every request stays pending, never attempted but one.
    Receiver hanging([](const Webhook&, int) { return Reply::hanging(); }, port);
    url = hanging.url();
    LogCollector log;
    std::string error;
    auto d = open_dispatcher(window_options(dir.path(), 100), log.logger(), error);
    REQUIRE(d);
    submit_numbered(*d, url, kCount);
    REQUIRE(hanging.wait([](const auto& r) { return !r.empty(); }, 10s));
    d->shutdown();  // commits what was submitted; the attempt in flight is abandoned
  }
  Receiver rx({}, port);
  LogCollector log;
  auto d = start_dispatcher(window_options(dir.path(), 100), log);
  const MemoryFigures memory = deliver_all(*d, log, kCount, 60s);

  bool resumed = false;
  for (const auto& l : log.lines()) {
    if (l.value("msg", "") == "outbox resumed") {
      resumed = true;
      CHECK(l.at("pending").get<int>() == kCount);
      CHECK(l.at("window").get<int>() == 100);
    }
  }
  CHECK(resumed);
  CHECK(rx.count() == kCount);
  // Request 0 was attempted in the first run, on the hanging receiver. If its 2 s timeout ran
  // out within the stop's 2 s grace, that attempt was recorded and it is a retry now, and
  // retries are not ordered with first attempts: the order is checked for the others.
  std::vector<int> order = first_attempt_order(rx.received());
  CHECK(std::count(order.begin(), order.end(), 0) == 1);
  order.erase(std::remove(order.begin(), order.end(), 0), order.end());
  std::vector<int> expected = zero_to(kCount);
  expected.erase(expected.begin());
  CHECK(order == expected);
  CHECK(memory.peak <= 100);
  CHECK(memory.read_back == kCount);
}

TEST_CASE("retries wait in the outbox and are read back when due") {
  constexpr int kCount = 40;
  TempDir dir;
  // Each request is refused at its first attempt and accepted at its second.
  std::mutex mu;
  std::set<int> refused;
  Receiver rx([&](const Webhook& r, int) {
    std::lock_guard lock(mu);
    return Reply(refused.insert(number_of(r)).second ? 500 : 200);
  });
  LogCollector log;
  std::string error;
  DispatcherOptions options = window_options(dir.path(), 10);
  options.retry = {300ms};
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE(d);
  submit_numbered(*d, rx.url(), kCount);
  const MemoryFigures memory = deliver_all(*d, log, kCount, 30s);

  CHECK(count_msg(log.lines(), "retry") == kCount);
  CHECK(count_msg(log.lines(), "dead") == 0);
  CHECK(rx.count() == 2 * kCount);
  std::map<int, int> times;
  for (const auto& r : rx.received()) ++times[number_of(r)];
  for (const auto& [n, t] : times) CHECK_MESSAGE(t == 2, "n=" << n);
  CHECK(memory.peak <= 10);
  // Every second attempt came from the outbox, as did the first attempts beyond the window.
  CHECK(memory.read_back >= kCount + kCount - 10);
}
