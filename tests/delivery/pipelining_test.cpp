// First attempts pipelined on one connection, against a raw receiver that closes connections
// the way real servers do: after a number of requests, with or without saying so.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "delivery/dispatcher.h"
#include "harness.h"

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

  void run() {
    while (wait_readable(listen_fd_)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      serve(fd);
      ::close(fd);
    }
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
  for (int i = 0; i < count; ++i) {
    Request r;
    r.urls = {rx.url()};
    r.query = "n=" + std::to_string(i);
    r.action = "create";
    r.path = "/demo/" + std::to_string(i);
    r.rule = "/demo";
    batch.push_back(std::move(r));
  }
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
