// Test harness for delivery/: scripted HTTP receivers on 127.0.0.1, a collecting logger, a
// temporary state_dir, a real SMTP server (python3-aiosmtpd) as a child process, and waiting
// on conditions with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "delivery/dispatcher.h"
#include "tests/support/smtp_server.h"

namespace httplib {
class Server;
}

namespace folderhook::delivery::test {

using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

// Polls `ready` until it holds or `timeout` passes; the condition is what the test waits on.
bool wait_for(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A free port on 127.0.0.1, and the real SMTP server, shared with the integration tests.
using folderhook::test::SmtpServer;
using folderhook::test::unused_port;

struct Received {
  std::string method;
  std::string target;  // path and raw query as sent
  std::string query;   // raw query, after '?'
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  SteadyTime at;
};

struct Reply {
  Reply(int code = 200, std::string text = "",
        std::vector<std::pair<std::string, std::string>> extra = {})
      : status(code), body(std::move(text)), headers(std::move(extra)) {}
  static Reply hanging() {
    Reply r;
    r.hang = true;
    return r;
  }
  static Reply endless() {
    Reply r;
    r.trickle = true;
    return r;
  }
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;     // never answer (until the receiver is closed)
  bool trickle = false;  // 200 with a chunked body that never ends
};

using Script = std::function<Reply(const Received& request, int index)>;

class Receiver {
 public:
  explicit Receiver(Script script = {}, int port = 0);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;
  std::vector<Received> received() const;
  size_t count() const;
  // Waits until `ready(received)` holds, at most `timeout`.
  bool wait(const std::function<bool(const std::vector<Received>&)>& ready,
            std::chrono::milliseconds timeout);

 private:
  Script script_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  bool closing_ = false;
};

// Collects the dispatcher's structured log calls.
class LogCollector {
 public:
  Logger logger();
  std::vector<nlohmann::json> lines() const;  // each: fields + "level" + "msg"
  std::vector<nlohmann::json> attempts() const;  // msg == "delivery"
  bool wait(const std::function<bool(const std::vector<nlohmann::json>&)>& ready,
            std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> lines_;
};

// Options for tests: short timeouts and schedule, email gathering shortened.
DispatcherOptions test_options(const std::string& state_dir);

}  // namespace folderhook::delivery::test
