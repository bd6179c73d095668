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

AttemptResult run_attempt(const Request& request, HttpSender& sender, SuccessPolicy policy,
                          const std::string& user_agent) {
  const auto start = Clock::now();
  AttemptResult result;
  for (const auto& raw_url : request.urls) {
    const auto url_start = Clock::now();
    UrlResult ur;
    ur.url = mask_url(raw_url);
    std::string error;
    const auto url = parse_url(raw_url, error);
    if (!url) {
      ur.error = "invalid URL: " + error;
    } else {
      const int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
      auto headers = webhook_headers(request, user_agent, ts, error);
      if (!headers) {
        ur.error = error;
      } else {
        HttpCall call;
        call.method = request.method.empty() ? "GET" : request.method;
        call.url = *url;
        call.target = append_query(url->target, request.query);
        call.headers = std::move(*headers);
        call.body = request.body;
        call.content_type = request.content_type;
        HttpResult http = sender.send(call);
        ur.status = http.status;
        if (!http.error.empty()) {
          ur.error = std::move(http.error);
        } else if (!is_success(http.status, policy)) {
          ur.error = status_error(http.status, policy);
        }
        if (http.status == 429 || http.status == 503) {
          const auto ra = parse_retry_after(http.retry_after, unix_ms_now());
          if (ra && (!result.retry_after || *ra > *result.retry_after)) result.retry_after = ra;
        }
        result.body = std::move(http.body);
      }
    }
    ur.ms = ms_since(url_start);
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
      break;
    }
    if (result.error == "aborted" || result.urls.back().error == "aborted") break;
  }
  if (request.urls.empty()) result.error = "no URL to send to";
  result.ms = ms_since(start);
  return result;
}

}  // namespace folderhook::delivery
