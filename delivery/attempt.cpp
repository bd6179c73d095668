#include "delivery/attempt.h"

#include <chrono>

#include "delivery/signature.h"
#include "delivery/url.h"

namespace folderhook::delivery {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

bool is_aborted(const AttemptResult& result) {
  return !result.urls.empty() && result.urls.back().error == kAborted;
}

}  // namespace

void record_url(const Request& request, AttemptResult& result, const std::string& url,
                SinkResult&& answer, int64_t ms) {
  UrlResult ur;
  ur.url = mask_url(url);
  ur.status = answer.status;
  ur.ms = ms;
  const bool accepted = answer.verdict == SinkResult::Verdict::kAccepted;
  ur.rejected = answer.verdict == SinkResult::Verdict::kRejected;
  if (!accepted) ur.error = answer.error.empty() ? "refused" : std::move(answer.error);
  if (answer.retry_after && (!result.retry_after || *answer.retry_after > *result.retry_after)) {
    result.retry_after = answer.retry_after;
  }
  result.body = std::move(answer.body);
  result.url = ur.url;
  result.status = ur.status;
  if (!accepted) {
    if (!result.error.empty()) result.error += "; ";
    result.error += request.urls.size() > 1 ? ur.url + ": " + ur.error : ur.error;
  }
  result.urls.push_back(std::move(ur));
  if (accepted) {
    result.delivered = true;
    result.error.clear();
  }
}

namespace {

// Hands `requests[slots]` to the sink of `url` as one batch.
void send_to(const std::vector<const Request*>& requests, const std::vector<size_t>& slots,
             const std::string& url, SinkSet& sinks, std::vector<AttemptResult>& results) {
  const auto start = Clock::now();
  std::string error;
  Sink* sink = sinks.for_url(url, error);
  std::vector<SinkResult> answers;
  if (sink == nullptr) {
    answers.assign(slots.size(), SinkResult{SinkResult::Verdict::kRejected, 0,
                                            "invalid URL: " + error, "", std::nullopt});
  } else {
    std::vector<const Request*> batch;
    batch.reserve(slots.size());
    for (const size_t s : slots) batch.push_back(requests[s]);
    answers = sink->deliver(batch, url);
    answers.resize(slots.size());  // a sink that breaks its contract fails, never crashes
  }
  const int64_t ms = ms_since(start);
  for (size_t k = 0; k < slots.size(); ++k) {
    record_url(*requests[slots[k]], results[slots[k]], url, std::move(answers[k]), ms);
  }
}

}  // namespace

bool is_success(int status, SuccessPolicy policy) {
  return policy == SuccessPolicy::kExactly200 ? status == 200 : (status >= 200 && status < 300);
}

std::optional<std::vector<std::pair<std::string, std::string>>> webhook_headers(
    const Request& request, const std::string& user_agent, int64_t timestamp_s,
    std::string& error) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("User-Agent", user_agent);
  headers.emplace_back("webhook-id", request.id);
  headers.emplace_back("webhook-timestamp", std::to_string(timestamp_s));
  for (const auto& h : request.headers) headers.push_back(h);
  if (!request.secret.empty()) {
    const std::string& payload = request.method == "POST" ? request.body : request.query;
    auto signature = sign_webhook(request.secret, request.id, timestamp_s, payload, error);
    if (!signature) return std::nullopt;
    headers.emplace_back("webhook-signature", std::move(*signature));
  }
  return headers;
}

AttemptResult run_attempt(const Request& request, SinkSet& sinks) {
  return std::move(run_attempts({&request}, sinks).front());
}

std::vector<AttemptResult> run_attempts(const std::vector<const Request*>& requests,
                                        SinkSet& sinks) {
  std::vector<AttemptResult> results(requests.size());
  continue_attempts(requests, results, 0, sinks);
  return results;
}

void continue_attempts(const std::vector<const Request*>& requests,
                       std::vector<AttemptResult>& results, size_t from, SinkSet& sinks) {
  const auto start = Clock::now();
  // URL by URL: those not yet accepted (nor abandoned) go to their next URL. Requests of one
  // batch usually share their URLs (one lane); consecutive ones with the same URL go together.
  for (size_t index = from;; ++index) {
    std::vector<size_t> slots;
    const std::string* url = nullptr;
    bool any = false;
    auto flush = [&] {
      if (!slots.empty()) send_to(requests, slots, *url, sinks, results);
      slots.clear();
    };
    for (size_t i = 0; i < requests.size(); ++i) {
      const Request& request = *requests[i];
      if (index >= request.urls.size() || results[i].delivered || is_aborted(results[i])) continue;
      any = true;
      if (url != nullptr && *url != request.urls[index]) flush();
      url = &request.urls[index];
      slots.push_back(i);
    }
    flush();
    if (!any) break;
  }
  const int64_t ms = ms_since(start);
  for (size_t i = 0; i < requests.size(); ++i) complete_attempt(*requests[i], results[i], ms);
}

void complete_attempt(const Request& request, AttemptResult& result, int64_t ms) {
  if (request.urls.empty()) result.error = "no URL to send to";
  bool all_rejected = !result.urls.empty();
  for (const auto& u : result.urls) all_rejected = all_rejected && u.rejected;
  result.rejected = !result.delivered && all_rejected;
  result.ms += ms;
}

bool attempt_aborted(const AttemptResult& result) { return is_aborted(result); }

}  // namespace folderhook::delivery
