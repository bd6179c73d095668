// DeadEmail: the relay's dead-letter email, the agent's (delivery/notifier.h) without an
// outbox: one email per folder rule per NotifyOptions::min_interval sums up the dead letters
// that this relay made meanwhile (gathered for NotifyOptions::gather); a failed email is logged
// and sent again with a doubling back-off. Its own thread, so that a slow SMTP server never
// delays deliveries. What it has not sent yet is lost if the relay dies (the dead letters
// themselves are in JetStream; `folderhook dead-letters` lists them).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "delivery/dispatcher.h"
#include "delivery/outbox.h"

namespace folderhook::relay {

class DeadEmail {
 public:
  // Starts the thread when options.smtp_url is set; otherwise add() does nothing.
  DeadEmail(delivery::NotifyOptions options, Logger logger);
  ~DeadEmail();  // stops: what is not sent yet is dropped
  DeadEmail(const DeadEmail&) = delete;
  DeadEmail& operator=(const DeadEmail&) = delete;

  // Any thread: one dead letter of `rule` (its folder path).
  void add(const std::string& rule, const std::string& url, const std::string& path,
           const std::string& id, int last_status, const std::string& last_error,
           int64_t died_ms);

 private:
  void run();

  const delivery::NotifyOptions options_;
  const Logger logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, delivery::DeadSummary> unsent_;  // by rule
  std::map<std::string, std::chrono::steady_clock::time_point> next_allowed_;  // by rule
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace folderhook::relay
