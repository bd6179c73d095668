// What a relay reports: GET /healthz (200 while the consumer answers, 503 with the reason
// otherwise), GET /metrics (Prometheus text: this relay's counters and the consumer's pending
// and redelivered counts) and GET /status (status --json's object) on agent.status_listen
// ("" = none), served by cpp-httplib on threads of its own. The consumer's counts are asked of
// the server on each request; the StreamConsumer is borrowed (set_consumer) and guarded.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/log.h"
#include "relay/relay.h"
#include "relay/relay_config.h"

namespace httplib {
class Server;
}

namespace folderhook::relay {

class StreamConsumer;

// status --json's object: the source, the consumer's counts, the dead letters' count
// (`error` set, and the counts absent, when the server could not be asked).
nlohmann::json relay_status_json(StreamConsumer& consumer, std::string& error);

class RelayStatusServer {
 public:
  RelayStatusServer(const RelayConfig& config, const RelayCounters& counters);
  ~RelayStatusServer();  // stops and joins
  RelayStatusServer(const RelayStatusServer&) = delete;
  RelayStatusServer& operator=(const RelayStatusServer&) = delete;

  // Binds agent.status_listen; false and `error` when it cannot ("" listens nowhere: true).
  bool start(std::string& error);
  // The consumer to ask (nullptr: none yet, or no more).
  void set_consumer(StreamConsumer* consumer);
  // "HOST:PORT" actually bound, "" when none.
  std::string address() const { return address_; }

 private:
  std::string metrics();

  const RelayConfig& config_;
  const RelayCounters& counters_;
  std::mutex mu_;  // guards consumer_ and its use
  StreamConsumer* consumer_ = nullptr;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace folderhook::relay
