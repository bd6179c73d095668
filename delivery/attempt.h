// One attempt of one delivery: the primary URL, then each redundant URL in order, until one
// accepts. Knows no protocol: each URL goes to the sink of its scheme (sink_set.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/request.h"
#include "delivery/retry.h"
#include "delivery/sink.h"
#include "delivery/sink_set.h"

namespace folderhook::delivery {

bool is_success(int status, SuccessPolicy policy);

// The headers of every HTTP request: User-Agent, webhook-id, webhook-timestamp, the Request's
// own headers, then webhook-signature when the Request has a secret. nullopt and `error` when
// the secret is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> webhook_headers(
    const Request& request, const std::string& user_agent, int64_t timestamp_s,
    std::string& error);

struct UrlResult {
  std::string url;  // masked
  int status = 0;
  std::string error;  // "" when accepted
  int64_t ms = 0;
  bool rejected = false;  // the sink refused it for good
};

struct AttemptResult {
  bool delivered = false;
  // Not delivered, and every URL refused it for good (SinkResult::Verdict::kRejected): a dead
  // letter at once, the schedule would not help.
  bool rejected = false;
  std::string url;     // masked: the URL that accepted, or the last one tried
  int status = 0;      // that URL's status, 0 if none
  std::string error;   // "" when delivered; otherwise each URL's error, "; "-separated
  std::string body;    // first 2 KB of the last answer
  std::optional<Millis> retry_after;  // the longest wait a destination asked for
  std::vector<UrlResult> urls;        // every URL tried, in order
  int64_t ms = 0;
};

AttemptResult run_attempt(const Request& request, SinkSet& sinks);

// One attempt of each request: their first URLs handed to the sink as one batch (in order),
// then the refused ones to their next URL as one batch, and so on. A request's ms counts from
// the start of the batch.
std::vector<AttemptResult> run_attempts(const std::vector<const Request*>& requests,
                                        SinkSet& sinks);

// The pieces of run_attempts, for a lane that streams its first URL (Sink::stream):
// Folds the answer of `url` (one of request.urls), which took `ms`, into the attempt so far.
void record_url(const Request& request, AttemptResult& result, const std::string& url,
                SinkResult&& answer, int64_t ms);
// Goes on with attempts whose URLs before `from` have answered (in `results`): the refused
// ones to their next URL as one batch, and so on, then completes each (complete_attempt) with
// the time this took.
void continue_attempts(const std::vector<const Request*>& requests,
                       std::vector<AttemptResult>& results, size_t from, SinkSet& sinks);
// Says whether every URL refused the request for good, and adds `ms` to the attempt's.
void complete_attempt(const Request& request, AttemptResult& result, int64_t ms);
// The sink abandoned it (kAborted): it stays pending, sent again at the next start.
bool attempt_aborted(const AttemptResult& result);

}  // namespace folderhook::delivery
