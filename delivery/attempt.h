// One attempt of one delivery: the primary URL, then each redundant URL in order, until one
// accepts. Holds the header and success rules; the network is behind HttpSender.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/dispatcher.h"
#include "delivery/http_sender.h"
#include "delivery/outbox.h"
#include "delivery/request.h"
#include "delivery/retry.h"

namespace folderhook::delivery {

bool is_success(int status, SuccessPolicy policy);

// The headers of every request: User-Agent, webhook-id, webhook-timestamp, the Request's own
// headers, then webhook-signature when the Request has a secret. nullopt and `error` when the
// secret is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> webhook_headers(
    const Request& request, const std::string& user_agent, int64_t timestamp_s,
    std::string& error);

struct UrlResult {
  std::string url;  // masked
  int status = 0;
  std::string error;  // "" when accepted
  int64_t ms = 0;
};

struct AttemptResult {
  bool delivered = false;
  std::string url;     // masked: the URL that accepted, or the last one tried
  int status = 0;      // that URL's status, 0 if none
  std::string error;   // "" when delivered; otherwise each URL's error, "; "-separated
  std::string body;    // first 2 KB of the last response body
  std::optional<Millis> retry_after;  // the longest Retry-After of a 429 or 503 answer
  std::vector<UrlResult> urls;        // every URL tried, in order
  int64_t ms = 0;
};

AttemptResult run_attempt(const Request& request, HttpSender& sender, SuccessPolicy policy,
                          const std::string& user_agent);

// One attempt of each request, their first URLs sent as one batch (HttpSender::send_batch:
// pipelined, in order), then each refused one on its other URLs one by one. A request's ms
// counts from the start of the batch.
std::vector<AttemptResult> run_attempts(const std::vector<const Request*>& requests,
                                        HttpSender& sender, SuccessPolicy policy,
                                        const std::string& user_agent);

}  // namespace folderhook::delivery
