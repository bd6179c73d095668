// How HTTP requests share connections: first attempts pipelined on one connection, against a
// raw receiver that closes connections the way real servers do (after a number of requests,
// with or without saying so); and, without pipelining, a batch spread over several
// connections from one thread, one request in flight on each.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "delivery/dispatcher.h"
#include "delivery/http/sender.h"
#include "delivery/url.h"
#include "harness.h"
#include "tests/support/test_ca.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

// Answers GET requests 200 in order; after `per_connection` answers it stops answering,
// closes its side (with "Connection: close" on the last answer when `announce`), and reads
// whatever else the client had sent until the client closes.
class ClosingReceiver {
 public:
  ClosingReceiver(int per_connection, bool announce)
      : per_connection_(per_connection), announce_(announce) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    thread_ = std::thread([this] { run(); });
  }
  ~ClosingReceiver() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<std::string> answered() const {
    std::lock_guard lock(mu_);
    return answered_;
  }
  // Requests that arrived on a connection after it had given its last answer.
  int unanswered() const { return unanswered_.load(); }

 private:
  bool wait_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    while (!stop_) {
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  static int count_heads(const std::string& bytes) {
    int n = 0;
    for (size_t at = bytes.find("\r\n\r\n"); at != std::string::npos;
         at = bytes.find("\r\n\r\n", at + 4)) {
      ++n;
    }
    return n;
  }

  void serve(int fd) {
    std::string buffer;
    int answers = 0;
    char chunk[4096];
    while (answers < per_connection_ && wait_readable(fd)) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<size_t>(n));
      size_t end;
      while (answers < per_connection_ && (end = buffer.find("\r\n\r\n")) != std::string::npos) {
        const std::string line = buffer.substr(0, buffer.find("\r\n"));
        const std::string target = line.substr(4, line.rfind(' ') - 4);
        buffer.erase(0, end + 4);
        ++answers;
        const bool last = answers == per_connection_;
        const std::string reply = std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n") +
                                  (last && announce_ ? "Connection: close\r\n" : "") + "\r\n";
        {
          std::lock_guard lock(mu_);
          answered_.push_back(target);
        }
        if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
      }
    }
    // Done with this connection: a FIN, then whatever the client had already sent is read
    // (and never answered), so that the close is a clean one rather than a reset.
    ::shutdown(fd, SHUT_WR);
    while (wait_readable(fd)) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    unanswered_ += count_heads(buffer);
  }

  // Each connection on its own thread, as a real server serves them side by side.
  void run() {
    std::vector<std::thread> serving;
    while (wait_readable(listen_fd_)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      serving.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
    for (auto& t : serving) t.join();
  }

  const int per_connection_;
  const bool announce_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> unanswered_{0};
  mutable std::mutex mu_;
  std::vector<std::string> answered_;
  std::thread thread_;
};

size_t count_outcome(const std::vector<nlohmann::json>& lines, const std::string& outcome) {
  size_t n = 0;
  for (const auto& l : lines) n += l.value("msg", "") == "delivery" && l.value("outcome", "") == outcome;
  return n;
}

// The create of /demo/N, sent to `url` with the query n=N.
Request numbered(const std::string& url, int n) {
  Request r;
  r.urls = {url};
  r.query = "n=" + std::to_string(n);
  r.action = "create";
  r.path = "/demo/" + std::to_string(n);
  r.rule = "/demo";
  return r;
}

// Submits `count` requests at once to one sender (pipelining `depth` deep) and checks that the receiver answered each
// exactly once, in submission order, and that none took a second attempt.
void deliver_in_order(ClosingReceiver& rx, int count, int depth = kPipelineDepth) {
  TempDir dir;
  LogCollector log;
  auto options = test_options(dir.path());
  options.first_senders = 1;
  options.pipeline_depth = depth;
  auto d = start_dispatcher(options, log);
  std::vector<Request> batch;
  for (int i = 0; i < count; ++i) batch.push_back(numbered(rx.url(), i));
  d->submit(std::move(batch));
  REQUIRE(log.wait([&](const auto& l) { return count_outcome(l, "delivered") == size_t(count); },
                   20s));
  d->shutdown();
  const auto got = rx.answered();
  REQUIRE(got.size() == size_t(count));
  for (int i = 0; i < count; ++i) CHECK(got[size_t(i)] == "/hook?n=" + std::to_string(i));
  CHECK(count_outcome(log.lines(), "retry") == 0);
}

}  // namespace

TEST_CASE("a receiver that closes every few requests without a word gets each one once, in order") {
  ClosingReceiver rx(7, false);
  deliver_in_order(rx, 300);
  // Requests it read but left unanswered were sent again, on a new connection.
  MESSAGE(rx.unanswered() << " requests sent again after a silent close");
}

TEST_CASE("a receiver that announces its close gets each request once, in order") {
  ClosingReceiver rx(10, true);
  deliver_in_order(rx, 300);
}

TEST_CASE("a receiver that takes one request per connection is no longer sent a pipeline") {
  ClosingReceiver rx(1, true);
  deliver_in_order(rx, 100);
  // Only the first connection carried a pipeline; every later one a single request.
  CHECK(rx.unanswered() < 64);
}

TEST_CASE("without pipelining a request is written only once the one before it is answered") {
  ClosingReceiver rx(1, true);
  deliver_in_order(rx, 30, 1);
  CHECK(rx.unanswered() == 0);  // with pipelining the first connection would hold 63
}

namespace {

// A script for Receiver that holds each request until `n` are open at once (or 5 s pass),
// then answers 200; it counts the most that were open at once.
class Gathering {
 public:
  explicit Gathering(int n) : n_(n) {}
  Script script() {
    return [this](const Webhook&, int) {
      std::unique_lock lock(mu_);
      ++open_;
      most_ = std::max(most_, open_);
      if (open_ >= n_) met_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, 5s, [&] { return met_; });
      --open_;
      return Reply{};
    };
  }
  int most() const {
    std::lock_guard lock(mu_);
    return most_;
  }

 private:
  const int n_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int open_ = 0;
  int most_ = 0;
  bool met_ = false;
};

// `n` GETs to `url`, each with its own query n=I.
std::vector<HttpCall> numbered_calls(const std::string& url, int n) {
  std::string error;
  const auto parsed = parse_url(url, error);
  REQUIRE(parsed);
  std::vector<HttpCall> calls;
  for (int i = 0; i < n; ++i) {
    HttpCall call;
    call.url = *parsed;
    call.target = parsed->target + "?n=" + std::to_string(i);
    calls.push_back(std::move(call));
  }
  return calls;
}

// Sends `n` numbered calls to `url` as one batch; each must be answered 200.
void send_all_answered(HttpSender& sender, const std::string& url, int n) {
  const auto results = sender.send_batch(numbered_calls(url, n));
  REQUIRE(results.size() == size_t(n));
  for (const auto& r : results) {
    CHECK(r.error == "");
    CHECK(r.status == 200);
  }
}

// This process's threads named `name` (pthread_setname_np).
int threads_named(const std::string& name) {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/task");
  REQUIRE(dir != nullptr);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + entry->d_name + "/comm");
    std::string line;
    if (std::getline(comm, line) && line == name) ++n;
  }
  ::closedir(dir);
  return n;
}

}  // namespace

TEST_CASE("spread over three connections: one call keeps three requests in flight at once, never more") {
  Gathering gathering(3);
  Receiver rx(gathering.script());
  // Sent one after another on one connection, the first would wait 5 s for two more: past
  // the 1 s timeout.
  auto sender = make_http_sender(1s, kSystemCaFile, 3);
  send_all_answered(*sender, rx.url(), 7);
  CHECK(gathering.most() == 3);
  std::vector<std::string> got;
  for (const auto& hook : rx.received()) got.push_back(hook.raw_query);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"n=0", "n=1", "n=2", "n=3", "n=4", "n=5", "n=6"});
}

TEST_CASE("spread: a kept-alive connection the receiver closed without a word carries its request again on another") {
  ClosingReceiver rx(1, false);  // one answer per connection, then a silent close
  auto sender = make_http_sender(2s, kSystemCaFile, 3);
  send_all_answered(*sender, rx.url(), 20);
  auto got = rx.answered();
  std::sort(got.begin(), got.end());
  CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());  // each answered once
  CHECK(got.size() == 20);
  CHECK(rx.unanswered() > 0);  // some went out on a connection already closed, and again
}

TEST_CASE("spread over HTTPS: every request answered once, over verified connections") {
  TestCa ca;
  Receiver rx(ca.cert, ca.key);
  auto sender = make_http_sender(2s, ca.ca, 3);
  send_all_answered(*sender, rx.url(), 20);
  CHECK(rx.count() == 20);
}

TEST_CASE("spread: abort ends the call at once; what was in flight or waiting says aborted") {
  Receiver rx([](const Webhook&, int) { return Reply::hanging(); });
  auto sender = make_http_sender(10s, kSystemCaFile, 3);
  std::vector<HttpResult> results;
  const auto start = std::chrono::steady_clock::now();
  std::thread call([&] { results = sender->send_batch(numbered_calls(rx.url(), 5)); });
  REQUIRE(rx.wait_for(3, 5s));
  sender->abort();
  call.join();
  CHECK(std::chrono::steady_clock::now() - start < 5s);  // not the 10 s timeout
  REQUIRE(results.size() == 5);
  for (const auto& r : results) CHECK(r.error == "aborted");
  CHECK(rx.count() == 3);  // the two waiting were never written
}

TEST_CASE("spread: a receiver that cannot be reached fails every call alike") {
  const int port = unused_port();
  auto sender = make_http_sender(1s, kSystemCaFile, 3);
  const auto results =
      sender->send_batch(numbered_calls("http://127.0.0.1:" + std::to_string(port) + "/hook", 5));
  REQUIRE(results.size() == 5);
  for (const auto& r : results) {
    CHECK(r.error == "cannot connect to 127.0.0.1:" + std::to_string(port) +
                         " (connection refused or host unreachable)");
  }
}

TEST_CASE("connections without pipelining: one first sender drives them; with pipelining, one each") {
  for (const int depth : {1, kPipelineDepth}) {
    CAPTURE(depth);
    const int before = threads_named("sender");
    TempDir dir;
    Receiver rx;
    LogCollector log;
    auto options = test_options(dir.path());
    options.first_senders = 3;
    options.pipeline_depth = depth;
    auto d = start_dispatcher(options, log);
    d->submit({numbered(rx.url(), 0)});
    REQUIRE(log.wait([&](const auto& l) { return count_outcome(l, "delivered") == 1; }, 10s));
    CHECK(threads_named("sender") - before == (depth == 1 ? 1 : 3));
    d->shutdown();
  }
}

namespace {

// A script for Receiver that holds the request whose query is `held` until release() (at most
// 10 s) and answers every other at once.
class Holding {
 public:
  explicit Holding(std::string held) : held_(std::move(held)) {}
  Script script() {
    return [this](const Webhook& hook, int) {
      if (hook.raw_query != held_) return Reply{};
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, 10s, [&] { return released_; });
      return Reply{};
    };
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  const std::string held_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

DispatcherOptions streaming_options(const TempDir& dir) {
  auto options = test_options(dir.path());
  options.first_senders = 3;
  options.pipeline_depth = 1;
  options.timeout = 10s;  // longer than anything is held here
  return options;
}

}  // namespace

TEST_CASE("streaming over connections: a slow answer holds only its own connection") {
  TempDir dir;
  Holding holding("n=0");
  Receiver rx(holding.script());
  LogCollector log;
  auto d = start_dispatcher(streaming_options(dir), log);
  std::vector<Request> batch;
  for (int n = 0; n < 40; ++n) batch.push_back(numbered(rx.url(), n));
  d->submit(std::move(batch));
  // Every other one is delivered, and its result recorded, while n=0 waits for its answer.
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 39; }, 10s));
  CHECK(rx.count() == 40);
  holding.release();
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 40; }, 10s));
  d->shutdown();
  CHECK(count_outcome(log.lines(), "retry") == 0);
}

TEST_CASE("streaming over connections: one queued while the others wait for answers leaves at once") {
  TempDir dir;
  Holding holding("n=0");
  Receiver rx(holding.script());
  LogCollector log;
  auto d = start_dispatcher(streaming_options(dir), log);
  d->submit({numbered(rx.url(), 0)});
  REQUIRE(rx.wait_for(1, 5s));
  // The stream waits on n=0's connection; n=1 wakes it and goes out on another.
  d->submit({numbered(rx.url(), 1)});
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 1; }, 5s));
  CHECK(rx.received().back().raw_query == "n=1");
  holding.release();
  REQUIRE(log.wait([](const auto& l) { return count_outcome(l, "delivered") == 2; }, 5s));
  d->shutdown();
}
