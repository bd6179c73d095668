#include "relay/relay_status.h"

#include <httplib.h>

#include <sstream>

#include "relay/stream_consumer.h"

namespace folderhook::relay {
namespace {

constexpr int kWorkers = 4;

// Messages in the dead-letter stream, -1 when it cannot be read.
int64_t dead_count(StreamConsumer& consumer) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&info, consumer.js(), consumer.config().relay.dead_stream.c_str(), nullptr,
                       &code) != NATS_OK)
    return -1;
  const auto n = static_cast<int64_t>(info->State.Msgs);
  jsStreamInfo_Destroy(info);
  return n;
}

}  // namespace

nlohmann::json relay_status_json(StreamConsumer& consumer, std::string& error) {
  const RelaySettings& r = consumer.config().relay;
  nlohmann::json out = {{"role", "relay"},
                        {"stream", r.stream},
                        {"consumer", r.consumer},
                        {"dead_stream", r.dead_stream},
                        {"dead_subject", r.dead_subject}};
  ConsumerFigures f;
  if (!consumer.figures(f, error)) return out;
  out["pending"] = f.pending + static_cast<uint64_t>(f.ack_pending);
  out["consumer"] = r.consumer;
  out["consumer_pending"] = f.pending;
  out["ack_pending"] = f.ack_pending;
  out["redelivered"] = f.redelivered;
  out["waiting_pulls"] = f.waiting;
  out["delivered_stream_seq"] = f.delivered_seq;
  out["dead_letters"] = dead_count(consumer);
  return out;
}

RelayStatusServer::RelayStatusServer(const RelayConfig& config, const RelayCounters& counters)
    : config_(config), counters_(counters), server_(std::make_unique<httplib::Server>()) {}

RelayStatusServer::~RelayStatusServer() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

void RelayStatusServer::set_consumer(StreamConsumer* consumer) {
  std::lock_guard lock(mu_);
  consumer_ = consumer;
}

std::string RelayStatusServer::metrics() {
  std::ostringstream m;
  const auto counter = [&](const char* name, const char* help, uint64_t value) {
    m << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << " " << value << "\n";
  };
  const auto gauge = [&](const char* name, const char* help, int64_t value) {
    m << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << value << "\n";
  };
  counter("folderhook_relay_received_total", "Messages fetched from the consumer.",
          counters_.received);
  counter("folderhook_deliveries_total", "Messages acknowledged after a URL accepted them.",
          counters_.delivered);
  counter("folderhook_retries_total", "Messages handed back with a delay to be tried again.",
          counters_.retried);
  counter("folderhook_dead_letters_total", "Messages made dead letters by this relay.",
          counters_.dead);
  counter("folderhook_relay_unrouted_total", "Messages no [[folder]] wants (acknowledged).",
          counters_.unrouted);
  counter("folderhook_attempts_total", "Requests sent, one per URL tried.", counters_.attempts);
  gauge("folderhook_relay_connected", "1 while the consumer answers.", counters_.connected ? 1 : 0);
  std::lock_guard lock(mu_);
  if (consumer_ != nullptr) {
    ConsumerFigures f;
    std::string error;
    if (consumer_->figures(f, error)) {
      gauge("folderhook_relay_consumer_pending",
            "Messages in the stream not yet handed to any relay.", static_cast<int64_t>(f.pending));
      gauge("folderhook_relay_consumer_ack_pending",
            "Messages handed out and not yet acknowledged (in flight or awaiting a retry).",
            f.ack_pending);
      gauge("folderhook_relay_consumer_redelivered",
            "Messages handed out more than once and not yet acknowledged.", f.redelivered);
    }
  }
  return m.str();
}

bool RelayStatusServer::start(std::string& error) {
  const std::string& listen = config_.base.status_listen;
  if (listen.empty()) return true;
  server_->set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  server_->set_read_timeout(2, 0);
  server_->set_write_timeout(10, 0);
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool up = counters_.connected;
    res.status = up ? 200 : 503;
    res.set_content(up ? "ok\n" : "the stream cannot be reached (see the log)\n", "text/plain");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
  });
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu_);
    std::string error;
    nlohmann::json out = consumer_ != nullptr ? relay_status_json(*consumer_, error)
                                              : nlohmann::json{{"role", "relay"}};
    if (consumer_ == nullptr) error = "not connected";
    if (!error.empty()) out["error"] = error;
    res.set_content(out.dump(), "application/json");
  });
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port == 0) port = server_->bind_to_any_port(host.c_str());
  else if (port < 0 || !server_->bind_to_port(host.c_str(), port)) port = -1;
  if (port <= 0) {
    error = "cannot listen on " + listen + " (agent.status_listen): address in use or not local";
    return false;
  }
  address_ = host + ":" + std::to_string(port);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return true;
}

}  // namespace folderhook::relay
