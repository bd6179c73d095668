#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace folderhook::delivery::test {

bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fh-delivery-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Receiver::Receiver(Script script, int port)
    : script_(std::move(script)), server_(std::make_unique<httplib::Server>()) {
  // Every sender thread holds a keep-alive connection, and each holds a server thread.
  server_->new_task_queue = [] { return new httplib::ThreadPool(48); };
  server_->set_keep_alive_timeout(2);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Received r;
    r.method = req.method;
    r.target = req.target;
    const auto q = req.target.find('?');
    r.query = q == std::string::npos ? "" : req.target.substr(q + 1);
    r.body = req.body;
    for (const auto& [k, v] : req.headers) {
      std::string key = k;
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      r.headers[key] = v;
    }
    r.at = std::chrono::steady_clock::now();
    int index;
    {
      std::lock_guard lock(mu_);
      index = static_cast<int>(received_.size());
      received_.push_back(r);
      cv_.notify_all();
    }
    const Reply reply = script_ ? script_(r, index) : Reply{};
    if (reply.hang) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, 30s, [this] { return closing_; });
      res.status = 500;
      return;
    }
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    if (reply.trickle) {
      res.set_chunked_content_provider("text/plain", [this](size_t, httplib::DataSink& sink) {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, 50ms, [this] { return closing_; })) return false;
        lock.unlock();
        return sink.write("x", 1);
      });
      return;
    }
    res.set_content(reply.body, "text/plain");
  };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  if (port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    port_ = server_->bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (port_ <= 0) throw std::runtime_error("receiver cannot bind");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

Receiver::~Receiver() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    cv_.notify_all();
  }
  server_->stop();
  thread_.join();
}

std::string Receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<Received> Receiver::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

size_t Receiver::count() const {
  std::lock_guard lock(mu_);
  return received_.size();
}

bool Receiver::wait(const std::function<bool(const std::vector<Received>&)>& ready,
                    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ready(received_); });
}

Logger LogCollector::logger() {
  return [this](std::string_view level, std::string_view msg, const nlohmann::json& fields) {
    nlohmann::json line = fields.is_object() ? fields : nlohmann::json::object();
    line["level"] = std::string(level);
    line["msg"] = std::string(msg);
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
    cv_.notify_all();
  };
}

std::vector<nlohmann::json> LogCollector::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::vector<nlohmann::json> LogCollector::attempts() const {
  std::vector<nlohmann::json> out;
  for (auto& l : lines()) {
    if (l["msg"] == "delivery") out.push_back(l);
  }
  return out;
}

bool LogCollector::wait(const std::function<bool(const std::vector<nlohmann::json>&)>& ready,
                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ready(lines_); });
}

DispatcherOptions test_options(const std::string& state_dir) {
  DispatcherOptions o;
  o.state_dir = state_dir;
  o.timeout = 2s;
  o.retry = {200ms, 400ms};
  o.user_agent = "folderhook-test/1";
  o.notify.gather = 300ms;
  return o;
}

}  // namespace folderhook::delivery::test
