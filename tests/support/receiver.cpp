#include "tests/support/receiver.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <httplib.h>

namespace folderhook::test {

std::string url_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

size_t busiest(const std::vector<Webhook>& hooks, std::chrono::milliseconds window) {
  size_t most = 0;
  for (size_t i = 0, j = 0; i < hooks.size(); ++i) {
    while (hooks[i].at - hooks[j].at >= window) ++j;
    most = std::max(most, i - j + 1);
  }
  return most;
}

std::string Webhook::param(const std::string& name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return "<absent>";
}

bool Webhook::has(const std::string& name) const {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
}

std::string Webhook::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::vector<std::string> Webhook::names() const {
  std::vector<std::string> out;
  for (const auto& p : params) out.push_back(p.first);
  return out;
}

Receiver::Receiver(Script script, int port)
    : script_(std::move(script)), server_(std::make_unique<httplib::Server>()) {
  start(port);
}

Receiver::Receiver(const std::string& cert_file, const std::string& key_file)
    : server_(std::make_unique<httplib::SSLServer>(cert_file.c_str(), key_file.c_str())),
      https_(true) {
  if (!server_->is_valid()) throw std::runtime_error("receiver: cannot load " + cert_file);
  start(0);
}

// The script's answer (on this server thread, outside the lock).
Reply Receiver::answer(const Webhook& hook, int index) { return script_(hook, index); }

void Receiver::start(int port) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    Webhook hook;
    hook.method = req.method;
    hook.path = req.path;
    hook.target = req.target;
    const auto q = req.target.find('?');
    if (q != std::string::npos) hook.raw_query = req.target.substr(q + 1);
    size_t start = 0;
    while (!hook.raw_query.empty() && start <= hook.raw_query.size()) {
      size_t end = hook.raw_query.find('&', start);
      if (end == std::string::npos) end = hook.raw_query.size();
      const std::string pair = hook.raw_query.substr(start, end - start);
      const auto eq = pair.find('=');
      hook.params.emplace_back(url_decode(pair.substr(0, eq)),
                               eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1)));
      start = end + 1;
    }
    for (const auto& [name, value] : req.headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      hook.headers[lower] = value;
    }
    hook.body = req.body;
    hook.at = std::chrono::steady_clock::now();
    for (const auto& [name, file] : req.files) hook.parts[name] = {file.filename, file.content};
    int index;
    int status;
    std::chrono::milliseconds delay;
    {
      // The status and delay in force when it arrived, taken with it: a test that sees it
      // arrive and sets another status changes the answers of later requests only.
      std::lock_guard lock(mutex_);
      index = static_cast<int>(received_.size());
      received_.push_back(hook);
      status = status_;
      delay = delay_;
    }
    changed_.notify_all();
    if (!script_ && delay.count() > 0) {
      // A slow receiver, by design; closing the receiver cuts the wait short.
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, delay, [this] { return closing_; });
    }
    const Reply reply = script_ ? answer(hook, index) : Reply{status, "ok"};
    if (reply.hang) {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::seconds(30), [this] { return closing_; });
      res.status = 500;
      return;
    }
    res.status = reply.status;
    for (const auto& [name, value] : reply.headers) res.set_header(name, value);
    if (reply.trickle) {
      res.set_chunked_content_provider("text/plain", [this](size_t, httplib::DataSink& sink) {
        std::unique_lock lock(mutex_);
        if (changed_.wait_for(lock, std::chrono::milliseconds(50), [this] { return closing_; })) {
          return false;
        }
        lock.unlock();
        return sink.write("x", 1);
      });
      return;
    }
    res.set_content(reply.body, "text/plain");
  };
  // Every sender thread of a dispatcher holds a keep-alive connection, and each holds a server
  // thread; a short keep-alive lets the destructor's stop() return soon after the last request.
  server_->new_task_queue = [] { return new httplib::ThreadPool(48); };
  server_->set_keep_alive_timeout(2);
  // Without it, an answer written in two parts waits ~40 ms for the agent's delayed ACK
  // (NOTES.md): a receiver then takes at most ~25 requests a second per connection.
  server_->set_tcp_nodelay(true);
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  if (port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    port_ = server_->bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (port_ <= 0) throw std::runtime_error("receiver: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // bind_to_any_port() already listens: a request that comes before accept() starts waits.
}

Receiver::~Receiver() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  server_->stop();
  thread_.join();
}

std::string Receiver::url(const std::string& path) const {
  return (https_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) + path;
}

void Receiver::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}

void Receiver::set_status(int status) {
  std::lock_guard lock(mutex_);
  status_ = status;
}

std::vector<Webhook> Receiver::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

size_t Receiver::count() const {
  std::lock_guard lock(mutex_);
  return received_.size();
}

bool Receiver::wait_for(size_t n, std::chrono::milliseconds timeout) const {
  return wait([n](const std::vector<Webhook>& got) { return got.size() >= n; }, timeout);
}

bool Receiver::wait(const std::function<bool(const std::vector<Webhook>&)>& ready,
                    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return ready(received_); });
}

}  // namespace folderhook::test
