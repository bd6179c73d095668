// NotifyOptions: who gets the dead-letter email and how often (notifier.h sends it; the
// Dispatcher takes them in DispatcherOptions::notify, relay/ in its own config).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace folderhook::delivery {

struct NotifyOptions {
  std::string smtp_url;  // "" = no email, dead letters are logged only
  std::string from;
  std::vector<std::string> to;
  // At most one email per folder rule per min_interval; deliveries that die within `gather`
  // of the first one go into the same email.
  std::chrono::milliseconds min_interval{std::chrono::hours(1)};
  std::chrono::milliseconds gather{std::chrono::seconds(2)};
  std::chrono::milliseconds retry_after_failure{std::chrono::seconds(30)};  // doubles, max 10m
};

}  // namespace folderhook::delivery
