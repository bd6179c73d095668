// Test harness for delivery/: a collecting logger and the dispatcher's options for tests, beside
// the helpers every suite shares (tests/support: temporary folders, the HTTP receiver, the
// SMTP server, waiting on conditions with a deadline).
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
#include "delivery/index_change.h"
#include "delivery/outbox.h"
#include "tests/support/receiver.h"
#include "tests/support/smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace folderhook::delivery::test {

using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

// Every suite's temporary folder (TempDir), HTTP receiver (Receiver, Reply, Webhook) and
// wait-with-deadline (wait_until), and the real SMTP server and a free port, shared with the
// integration tests: tests/support.
using namespace folderhook::test;

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

// A dispatcher on `options` that logs into `log`; the test fails, saying why, when it cannot
// be opened.
std::unique_ptr<Dispatcher> start_dispatcher(const DispatcherOptions& options, LogCollector& log);

// Commits `changes` to the stored index in one transaction of `outbox`, with nothing else.
bool commit_index_changes(Outbox& outbox, std::vector<IndexChange> changes);

}  // namespace folderhook::delivery::test
