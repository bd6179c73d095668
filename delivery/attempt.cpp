#include "delivery/attempt.h"

#include <chrono>

#include "delivery/signature.h"

namespace folderhook::delivery {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string status_error(int status, SuccessPolicy policy) {
  std::string e = "HTTP " + std::to_string(status);
  if (status >= 300 && status < 400) e += " (redirects are not followed)";
  if (status >= 200 && status < 300 && policy == SuccessPolicy::kExactly200) {
    e += " (success = \"200\" demands exactly 200)";
  }
  return e;
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

namespace {

// The call to request.urls[index], or nullopt and `error` when the URL or the secret is bad.
std::optional<HttpCall> make_call(const Request& request, size_t index,
                                  const std::string& user_agent, std::string& error) {
  const auto url = parse_url(request.urls[index], error);
  if (!url) {
    error = "invalid URL: " + error;
    return std::nullopt;
  }
  const int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auto headers = webhook_headers(request, user_agent, ts, error);
  if (!headers) return std::nullopt;
  HttpCall call;
  call.method = request.method.empty() ? "GET" : request.method;
  call.url = *url;
  call.target = append_query(url->target, request.query);
  call.headers = std::move(*headers);
  call.body = request.body;
  call.content_type = request.content_type;
  return call;
}

// Folds the answer of one URL into the attempt; true when that URL accepted.
bool record_url(const Request& request, AttemptResult& result, UrlResult ur, HttpResult* http,
                SuccessPolicy policy) {
  if (http != nullptr) {
    ur.status = http->status;
    if (!http->error.empty()) {
      ur.error = std::move(http->error);
    } else if (!is_success(http->status, policy)) {
      ur.error = status_error(http->status, policy);
    }
    if (http->status == 429 || http->status == 503) {
      const auto ra = parse_retry_after(http->retry_after, unix_ms_now());
      if (ra && (!result.retry_after || *ra > *result.retry_after)) result.retry_after = ra;
    }
    result.body = std::move(http->body);
  }
  result.url = ur.url;
  result.status = ur.status;
  const bool accepted = ur.error.empty();
  if (!accepted) {
    if (!result.error.empty()) result.error += "; ";
    result.error += request.urls.size() > 1 ? ur.url + ": " + ur.error : ur.error;
  }
  result.urls.push_back(std::move(ur));
  if (accepted) {
    result.delivered = true;
    result.error.clear();
  }
  return accepted;
}

// Tries request.urls from `index` on, one by one, until one accepts.
void try_urls(const Request& request, size_t index, HttpSender& sender, SuccessPolicy policy,
              const std::string& user_agent, AttemptResult& result) {
  for (; index < request.urls.size(); ++index) {
    const auto url_start = Clock::now();
    UrlResult ur;
    ur.url = mask_url(request.urls[index]);
    std::string error;
    bool accepted;
    if (auto call = make_call(request, index, user_agent, error)) {
      HttpResult http = sender.send(*call);
      ur.ms = ms_since(url_start);
      accepted = record_url(request, result, std::move(ur), &http, policy);
    } else {
      ur.error = std::move(error);
      accepted = record_url(request, result, std::move(ur), nullptr, policy);
    }
    if (accepted) break;
    if (result.error == "aborted" || result.urls.back().error == "aborted") break;
  }
}

}  // namespace

AttemptResult run_attempt(const Request& request, HttpSender& sender, SuccessPolicy policy,
                          const std::string& user_agent) {
  const auto start = Clock::now();
  AttemptResult result;
  try_urls(request, 0, sender, policy, user_agent, result);
  if (request.urls.empty()) result.error = "no URL to send to";
  result.ms = ms_since(start);
  return result;
}

std::vector<AttemptResult> run_attempts(const std::vector<const Request*>& requests,
                                        HttpSender& sender, SuccessPolicy policy,
                                        const std::string& user_agent) {
  const auto start = Clock::now();
  std::vector<AttemptResult> results(requests.size());
  // The first URL of every request, in one batch; `slot` maps a call back to its request.
  std::vector<HttpCall> calls;
  std::vector<size_t> slot;
  for (size_t i = 0; i < requests.size(); ++i) {
    const Request& request = *requests[i];
    if (request.urls.empty()) continue;
    std::string error;
    if (auto call = make_call(request, 0, user_agent, error)) {
      calls.push_back(std::move(*call));
      slot.push_back(i);
    } else {
      UrlResult ur;
      ur.url = mask_url(request.urls[0]);
      ur.error = std::move(error);
      record_url(request, results[i], std::move(ur), nullptr, policy);
    }
  }
  std::vector<HttpResult> answers = sender.send_batch(calls);
  const int64_t batch_ms = ms_since(start);
  for (size_t c = 0; c < calls.size(); ++c) {
    const Request& request = *requests[slot[c]];
    UrlResult ur;
    ur.url = mask_url(request.urls[0]);
    ur.ms = batch_ms;
    record_url(request, results[slot[c]], std::move(ur), &answers[c], policy);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    AttemptResult& result = results[i];
    const Request& request = *requests[i];
    const bool aborted = !result.urls.empty() && result.urls.back().error == "aborted";
    if (!result.delivered && !aborted) {
      try_urls(request, result.urls.size(), sender, policy, user_agent, result);
    }
    if (request.urls.empty()) result.error = "no URL to send to";
    result.ms = ms_since(start);
  }
  return results;
}

}  // namespace folderhook::delivery
