#include "relay/dead_email.h"

#include <algorithm>

#include "delivery/notifier.h"

namespace folderhook::relay {
namespace {

constexpr size_t kSamplePaths = 10;
constexpr auto kMaxBackoff = std::chrono::minutes(10);

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DeadEmail::DeadEmail(delivery::NotifyOptions options, Logger logger)
    : options_(std::move(options)), logger_(std::move(logger)) {
  if (!options_.smtp_url.empty() && !options_.to.empty()) thread_ = std::thread([this] { run(); });
}

DeadEmail::~DeadEmail() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cancel_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeadEmail::add(const std::string& rule, const std::string& url, const std::string& path,
                    const std::string& id, int last_status, const std::string& last_error,
                    int64_t died_ms) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    delivery::DeadSummary& s = unsent_[rule];
    if (s.count == 0) s.first_died_ms = died_ms;
    s.rule = rule;
    ++s.count;
    if (std::find(s.urls.begin(), s.urls.end(), url) == s.urls.end()) s.urls.push_back(url);
    if (s.sample_paths.size() < kSamplePaths) s.sample_paths.push_back(path);
    s.ids.push_back(id);
    s.last_status = last_status;
    s.last_error = last_error;
    s.last_died_ms = died_ms;
  }
  cv_.notify_all();
}

void DeadEmail::run() {
  std::chrono::milliseconds backoff = options_.retry_after_failure;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait(lock, [&] { return stopping_ || !unsent_.empty(); });
    if (stopping_) break;
    // Deaths that come close together go into one email.
    cv_.wait_for(lock, options_.gather, [&] { return stopping_; });
    const auto now = std::chrono::steady_clock::now();
    auto due = std::chrono::steady_clock::time_point::max();
    for (auto it = unsent_.begin(); it != unsent_.end() && !stopping_;) {
      const auto allowed = next_allowed_[it->first];
      if (allowed > now) {
        due = std::min(due, allowed);
        ++it;
        continue;
      }
      const delivery::DeadSummary summary = it->second;
      lock.unlock();
      const std::string message =
          delivery::build_dead_letter_email(summary, options_, now_unix_ms());
      const delivery::EmailResult sent = delivery::send_email(options_, message, &cancel_);
      lock.lock();
      if (sent.ok) {
        logger_("info", "dead-letter email sent",
                {{"rule", summary.rule}, {"count", summary.count}});
        // Those that died while it was being sent stay for the next one.
        delivery::DeadSummary& left = it->second;
        left.count -= summary.count;
        left.ids.erase(left.ids.begin(),
                       left.ids.begin() + std::min(left.ids.size(), summary.ids.size()));
        left.sample_paths.clear();
        next_allowed_[it->first] = now + options_.min_interval;
        backoff = options_.retry_after_failure;
        if (left.count <= 0) it = unsent_.erase(it);
        else ++it;
      } else {
        logger_("warn", "dead-letter email failed; will try again",
                {{"rule", summary.rule}, {"error", sent.error}, {"retry_in_ms", backoff.count()}});
        next_allowed_[it->first] = now + backoff;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
        due = std::min(due, next_allowed_[it->first]);
        ++it;
      }
    }
    if (due != std::chrono::steady_clock::time_point::max())
      cv_.wait_until(lock, due, [&] { return stopping_; });
  }
}

}  // namespace folderhook::relay
