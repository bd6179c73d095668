#include "agent/status_server.h"

#include <pthread.h>

#include <chrono>

#include <httplib.h>

#include "delivery/status.h"

namespace folderhook::agent {
namespace {

// The loop refreshes its heartbeat every second; three missed beats mean it is stuck.
constexpr int64_t kLoopStaleMs = 3000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

StatusServer::StatusServer(const Metrics& metrics, std::string state_dir)
    : metrics_(metrics), state_dir_(std::move(state_dir)),
      server_(std::make_unique<httplib::Server>()) {}

StatusServer::~StatusServer() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

bool StatusServer::start(const std::string& listen, std::string& error) {
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const int64_t stale = now_ms() - metrics_.loop_alive_ms();
    std::string reason;
    if (stale > kLoopStaleMs) reason = "event loop has not run for " + std::to_string(stale) + " ms";
    else if (metrics_.degraded()) reason = "some directories could not be watched (see the log)";
    res.status = reason.empty() ? 200 : 503;
    res.set_content(reason.empty() ? "ok\n" : reason + "\n", "text/plain");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string error;
    const nlohmann::json status = delivery::read_status(state_dir_, error);
    res.set_content(metrics_.render(status), "text/plain; version=0.0.4");
  });

  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = std::stoi(listen.substr(colon + 1));
  if (port == 0) port = server_->bind_to_any_port(host.c_str());
  else if (!server_->bind_to_port(host.c_str(), port)) port = -1;
  if (port <= 0) {
    error = "cannot listen on agent.status_listen " + listen + " (in use, or not an address here)";
    return false;
  }
  port_ = port;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "status-http");
    server_->listen_after_bind();
  });
  return true;
}

}  // namespace folderhook::agent
