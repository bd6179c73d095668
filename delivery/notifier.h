// Notifier: the dead-letter email. Its own thread and its own outbox connection, so that a
// slow or dead SMTP server never delays deliveries. One email per folder rule per
// NotifyOptions::min_interval summarises the dead letters not yet reported; a failed email
// is logged and retried with a doubling back-off. The dead letters record what was reported,
// so a restart neither loses nor repeats an email.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/logger.h"
#include "delivery/notify_options.h"
#include "delivery/outbox.h"

namespace folderhook::delivery {

class Notifier {
 public:
  // Starts the thread; checks the dead letters at once (a restart may find unreported ones).
  Notifier(std::string state_dir, NotifyOptions options, Logger logger);
  ~Notifier();  // stop()
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Any thread: new dead letters were committed.
  void wake();
  void stop();

 private:
  void run();
  // Returns when the next check is due (ms from now), or -1 to wait for a wake.
  int64_t check(Outbox& outbox);

  const std::string state_dir_;
  const NotifyOptions options_;
  const Logger logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = true;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::chrono::milliseconds backoff_;
  std::thread thread_;
};

struct EmailResult {
  bool ok = false;
  std::string error;
};

// The summary email of one rule's dead letters (RFC 5322 text with CRLF line ends).
std::string build_dead_letter_email(const DeadSummary& summary, const NotifyOptions& options,
                                    int64_t now_ms);

// Sends a message through libcurl's SMTP (smtp:// with STARTTLS when offered, or smtps://;
// user:password in the URL). `cancel` is polled during the transfer.
EmailResult send_email(const NotifyOptions& options, const std::string& message,
                       const std::atomic<bool>* cancel = nullptr);

}  // namespace folderhook::delivery
