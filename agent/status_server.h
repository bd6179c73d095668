// StatusServer: GET /healthz (liveness), GET /readyz (readiness: 503 with the reasons, one a
// line, until the agent watches, while the outbox cannot be written, while a folder cannot be
// watched), GET /expectations (expect_store.h: a JSON array, read from state_dir) and
// GET /metrics on agent.status_listen, served by cpp-httplib on
// threads of its own. It reads only Metrics (atomics), the outbox and expectations.db through
// its own SQLite connections, so it never touches the loop. One request per connection, which
// must arrive whole within 2 s and whose answer the client must take within 10 s; 16 workers:
// clients that dribble their headers cannot starve the others.
// The port is never shared (no SO_REUSEPORT): a port in use is an error.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "agent/metrics.h"

namespace httplib {
class Server;
}

namespace folderhook::agent {

class StatusServer {
 public:
  StatusServer(const Metrics& metrics, std::string state_dir);
  ~StatusServer();  // stops and joins
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // "HOST:PORT". False with `error` ("cannot listen on HOST:PORT: address in use ...") when it
  // cannot bind.
  bool start(const std::string& listen, std::string& error);
  int port() const { return port_; }

 private:
  const Metrics& metrics_;
  std::string state_dir_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace folderhook::agent
