#include "agent/status_server.h"
#include "agent/wall_clock.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <httplib.h>

#include "agent/expect_store.h"
#include "delivery/status.h"

namespace folderhook::agent {
namespace {

// The loop refreshes its heartbeat every second; three missed beats mean it is stuck.
constexpr int64_t kLoopStaleMs = 3000;
// A request must arrive whole within this time of a worker taking its connection: a client
// that sends its header lines slowly holds a worker that long at most (cpp-httplib's own
// read timeout applies to each read, so a line every few seconds held one for ever).
constexpr std::chrono::milliseconds kRequestDeadline{2000};
// And the answer must be taken within this time of the same moment (a client that reads
// slowly holds a worker no longer).
constexpr std::chrono::milliseconds kAnswerDeadline{10'000};
// Workers: each connection holds one until it is answered or its deadline passes.
constexpr size_t kWorkers = 16;
constexpr int kBacklog = 128;

void address_of(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST] = {};
  char service[NI_MAXSERV] = {};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host,
                    service, sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

// One connection of the status endpoint: every read waits only until the request's deadline,
// every write until the answer's.
class DeadlineStream final : public httplib::Stream {
 public:
  explicit DeadlineStream(int fd)
      : fd_(fd),
        read_deadline_(std::chrono::steady_clock::now() + kRequestDeadline),
        write_deadline_(std::chrono::steady_clock::now() + kAnswerDeadline) {}

  bool is_readable() const override { return wait(POLLIN, read_deadline_); }
  bool is_writable() const override { return wait(POLLOUT, write_deadline_); }
  ssize_t read(char* data, size_t size) override {
    if (!is_readable()) return -1;
    ssize_t n;
    do n = ::recv(fd_, data, size, 0); while (n < 0 && errno == EINTR);
    return n;
  }
  ssize_t write(const char* data, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(fd_, data, size, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    return n;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      address_of(addr, len, ip, port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      address_of(addr, len, ip, port);
    }
  }
  socket_t socket() const override { return fd_; }

 private:
  bool wait(short events, std::chrono::steady_clock::time_point deadline) const {
    pollfd p{fd_, events, 0};
    int n;
    do {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      n = ::poll(&p, 1, static_cast<int>(left.count()));
    } while (n < 0 && errno == EINTR);
    return n > 0;
  }
  int fd_;
  std::chrono::steady_clock::time_point read_deadline_;
  std::chrono::steady_clock::time_point write_deadline_;
};

// cpp-httplib's server with one request per connection, read within kRequestDeadline.
class BoundedServer final : public httplib::Server {
 public:
  // cpp-httplib listens with a backlog of 5: a few slow clients connecting at once filled it,
  // and the next client's SYN was dropped and sent again a second later. Linux takes a second
  // listen() on a listening socket as a new backlog.
  void widen_backlog() { ::listen(svr_sock_, kBacklog); }

 private:
  bool process_and_close_socket(socket_t sock) override {
    DeadlineStream stream(sock);
    bool closed = false;
    const bool ok = process_request(stream, /*close_connection=*/true, closed, nullptr);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }
};

// Why binding HOST:PORT fails, as the kernel says it: cpp-httplib only says that it failed.
std::string bind_error(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return gai_strerror(rc);
  }
  std::string why = "cannot bind";
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd >= 0) {
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
      why = errno == EADDRINUSE ? "address in use" : std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

// Why the agent is not ready, one reason a line; "" when it is. Liveness (/healthz) is apart.
std::string not_ready(const Metrics& metrics) {
  std::string reasons;
  if (!metrics.watching()) reasons += "starting: not watching yet (the start walk is adding watches)\n";
  if (metrics.outbox_failing()) {
    reasons += "outbox cannot be written (disk full?): " +
               std::to_string(metrics.held_in_memory()) + " new requests held in memory\n";
  }
  if (const uint64_t missing = metrics.missing_roots(); missing > 0) {
    reasons += std::to_string(missing) + " watched folder(s) do not exist (see the log)\n";
  }
  if (metrics.degraded()) reasons += "some directories could not be watched (see the log)\n";
  return reasons;
}

}  // namespace

StatusServer::StatusServer(const Metrics& metrics, std::string state_dir)
    : metrics_(metrics), state_dir_(std::move(state_dir)),
      server_(std::make_unique<BoundedServer>()) {}

StatusServer::~StatusServer() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

bool StatusServer::start(const std::string& listen, std::string& error) {
  // SO_REUSEADDR alone (a restart may bind while old connections linger in TIME_WAIT);
  // cpp-httplib's default SO_REUSEPORT would let a second server share a port that is in use.
  server_->set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const int64_t stale = now_ms() - metrics_.loop_alive_ms();
    std::string reason;
    if (stale > kLoopStaleMs) reason = "event loop has not run for " + std::to_string(stale) + " ms";
    else if (metrics_.degraded()) reason = "some directories could not be watched (see the log)";
    res.status = reason.empty() ? 200 : 503;
    res.set_content(reason.empty() ? "ok\n" : reason + "\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    std::string reasons = not_ready(metrics_);
    if (const int64_t stale = now_ms() - metrics_.loop_alive_ms(); stale > kLoopStaleMs) {
      reasons += "event loop has not run for " + std::to_string(stale) + " ms\n";
    }
    res.status = reasons.empty() ? 200 : 503;
    res.set_content(reasons.empty() ? "ready\n" : reasons, "text/plain");
  });
  server_->Get("/expectations", [this](const httplib::Request&, httplib::Response& res) {
    std::string error;
    const nlohmann::json list = expectations_status(state_dir_, error);
    if (list.is_null()) {
      res.status = 500;
      res.set_content(error + "\n", "text/plain");
      return;
    }
    res.set_content(list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                    "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string error;
    const nlohmann::json status = delivery::read_status(state_dir_, error);
    res.set_content(metrics_.render(status), "text/plain; version=0.0.4");
  });

  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int wanted = std::stoi(listen.substr(colon + 1));
  int port = wanted;
  if (port == 0) port = server_->bind_to_any_port(host.c_str());
  else if (!server_->bind_to_port(host.c_str(), port)) port = -1;
  if (port <= 0) {
    error = "cannot listen on " + listen + ": " + bind_error(host, wanted) + " (agent.status_listen)";
    return false;
  }
  static_cast<BoundedServer&>(*server_).widen_backlog();
  port_ = port;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "status-http");
    server_->listen_after_bind();
  });
  return true;
}

}  // namespace folderhook::agent
