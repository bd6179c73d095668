#include "delivery/notifier.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <random>

#include <nlohmann/json.hpp>

#include "delivery/curl_library.h"
#include "delivery/retry.h"
#include "delivery/url.h"

namespace folderhook::delivery {
namespace {

// Control characters (a newline in a file name) must not break the mail's line structure.
std::string printable(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string rfc5322_date(int64_t now_ms) {
  const auto secs = static_cast<time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t read_upload(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* up = static_cast<Upload*>(userdata);
  const size_t n = std::min(size * nitems, up->data->size() - up->offset);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

int progress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(clientp);
  return cancel != nullptr && cancel->load() ? 1 : 0;
}

}  // namespace

std::string build_dead_letter_email(const DeadSummary& s, const NotifyOptions& options,
                                    int64_t now_ms) {
  std::string to;
  for (const auto& t : options.to) to += (to.empty() ? "" : ", ") + t;
  std::mt19937_64 rng(std::random_device{}());
  const std::string rule = printable(s.rule);
  std::string m;
  m += "Date: " + rfc5322_date(now_ms) + "\r\n";
  m += "From: " + options.from + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: folderhook: " + std::to_string(s.count) + " webhook deliver" +
       (s.count == 1 ? "y" : "ies") + " failed for " + rule + "\r\n";
  m += "Message-ID: <" + std::to_string(rng()) + "." + std::to_string(now_ms) +
       "@folderhook>\r\n";
  m += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n";
  m += "folderhook gave up on " + std::to_string(s.count) + " webhook deliver" +
       (s.count == 1 ? "y" : "ies") + " for the folder rule " + rule +
       " after every retry.\r\n\r\n";
  m += "URLs:\r\n";
  for (const auto& u : s.urls) m += "  " + mask_url(u) + "\r\n";
  m += "Last error: " + printable(s.last_error) + "\r\n";
  m += "Last HTTP status: " + std::to_string(s.last_status) + "\r\n";
  m += "Died between " + format_iso_utc(s.first_died_ms) + " and " +
       format_iso_utc(s.last_died_ms) + "\r\n\r\n";
  m += "Sample paths:\r\n";
  for (const auto& p : s.sample_paths) m += "  " + printable(p) + "\r\n";
  if (s.count > static_cast<int>(s.sample_paths.size())) {
    m += "  ... and " + std::to_string(s.count - static_cast<int>(s.sample_paths.size())) +
         " more\r\n";
  }
  m += "\r\nSend them again with: folderhook replay --config FILE [--since TIME] [--id ID]\r\n";
  return m;
}

EmailResult send_email(const NotifyOptions& options, const std::string& message,
                       const std::atomic<bool>* cancel) {
  EmailResult result;
  const CurlLibrary* lib = curl_library(result.error);
  if (lib == nullptr) return result;
  CURL* curl = lib->easy_init();
  if (curl == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_slist* rcpt = nullptr;
  for (const auto& t : options.to) rcpt = lib->slist_append(rcpt, t.c_str());
  Upload upload{&message};
  // Through the pointer, curl.h's type-checking macro does not apply: each value below has the
  // type libcurl's documentation gives for its option (char*, long, a callback, a pointer).
  const auto set = lib->easy_setopt;
  set(curl, CURLOPT_URL, options.smtp_url.c_str());
  set(curl, CURLOPT_MAIL_FROM, options.from.c_str());
  set(curl, CURLOPT_MAIL_RCPT, rcpt);
  set(curl, CURLOPT_READFUNCTION, &read_upload);
  set(curl, CURLOPT_READDATA, &upload);
  set(curl, CURLOPT_UPLOAD, 1L);
  set(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  set(curl, CURLOPT_CONNECTTIMEOUT, 15L);
  set(curl, CURLOPT_TIMEOUT, 60L);
  set(curl, CURLOPT_NOSIGNAL, 1L);
  set(curl, CURLOPT_ERRORBUFFER, errbuf);
  set(curl, CURLOPT_NOPROGRESS, 0L);
  set(curl, CURLOPT_XFERINFOFUNCTION, &progress);
  set(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
  const CURLcode rc = lib->easy_perform(curl);
  if (rc == CURLE_OK) {
    result.ok = true;
  } else {
    result.error = std::string("SMTP to ") + mask_url(options.smtp_url) + " failed: " +
                   (errbuf[0] != '\0' ? errbuf : lib->easy_strerror(rc));
  }
  lib->slist_free_all(rcpt);
  lib->easy_cleanup(curl);
  return result;
}

Notifier::Notifier(std::string state_dir, NotifyOptions options, Logger logger)
    : state_dir_(std::move(state_dir)),
      options_(std::move(options)),
      logger_(std::move(logger)),
      backoff_(options_.retry_after_failure) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "notifier");
    run();
  });
}

Notifier::~Notifier() { stop(); }

void Notifier::wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancel_.store(true);
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Notifier::run() {
  std::string error;
  auto outbox = Outbox::open(state_dir_, error);
  if (!outbox) {
    logger_("error", "dead-letter email disabled", {{"error", error}});
    return;
  }
  int64_t next_check_ms = -1;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto ready = [this] { return stopping_ || woken_; };
    if (next_check_ms < 0) {
      cv_.wait(lock, ready);
    } else {
      cv_.wait_for(lock, std::chrono::milliseconds(next_check_ms), ready);
    }
    if (stopping_) break;
    if (woken_) {
      // Let the deliveries that die together arrive, so that they share one email.
      woken_ = false;
      cv_.wait_for(lock, options_.gather, [this] { return stopping_; });
      if (stopping_) break;
    }
    lock.unlock();
    next_check_ms = check(*outbox);
    lock.lock();
  }
}

int64_t Notifier::check(Outbox& outbox) {
  std::vector<DeadSummary> summaries;
  std::string error;
  if (!outbox.dead_summaries(summaries, error)) {
    logger_("error", "cannot read dead letters for email", {{"error", error}});
    return options_.retry_after_failure.count();
  }
  int64_t next = -1;
  auto sooner = [&next](int64_t ms) { next = next < 0 ? ms : std::min(next, ms); };
  for (const auto& s : summaries) {
    const int64_t now = unix_ms_now();
    const int64_t last = outbox.last_notified_ms(s.rule);
    if (last > 0 && now - last < options_.min_interval.count()) {
      sooner(last + options_.min_interval.count() - now);
      continue;
    }
    const std::string message = build_dead_letter_email(s, options_, now);
    const EmailResult sent = send_email(options_, message, &cancel_);
    if (cancel_.load()) return -1;
    if (!sent.ok) {
      logger_("warn", "dead-letter email failed",
              {{"rule", s.rule}, {"count", s.count}, {"error", sent.error},
               {"retry_in_ms", backoff_.count()}});
      sooner(backoff_.count());
      backoff_ = std::min<std::chrono::milliseconds>(2 * backoff_, std::chrono::minutes(10));
      continue;
    }
    backoff_ = options_.retry_after_failure;
    if (!outbox.mark_notified(s, now, error)) {
      logger_("error", "cannot record the dead-letter email", {{"error", error}});
    }
    logger_("info", "dead-letter email sent",
            {{"rule", s.rule}, {"count", s.count}, {"to", options_.to}});
  }
  return next;
}

}  // namespace folderhook::delivery
