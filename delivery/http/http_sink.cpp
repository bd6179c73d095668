#include "delivery/http/http_sink.h"

#include <chrono>
#include <cstdint>
#include <utility>

#include "delivery/attempt.h"
#include "delivery/outbox.h"

namespace folderhook::delivery {
namespace {

std::string status_error(int status, SuccessPolicy policy) {
  std::string e = "HTTP " + std::to_string(status);
  if (status >= 300 && status < 400) e += " (redirects are not followed)";
  if (status >= 200 && status < 300 && policy == SuccessPolicy::kExactly200) {
    e += " (success = \"200\" demands exactly 200)";
  }
  return e;
}

// The call of `request` to `url`, or nullopt and `error` when the secret is bad.
std::optional<HttpCall> make_call(const Request& request, const Url& url,
                                  const std::string& user_agent, std::string& error) {
  const int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auto headers = webhook_headers(request, user_agent, ts, error);
  if (!headers) return std::nullopt;
  HttpCall call;
  call.method = request.method.empty() ? "GET" : request.method;
  call.url = url;
  call.target = append_query(url.target, request.query);
  call.headers = std::move(*headers);
  call.body = request.body;
  call.content_type = request.content_type;
  return call;
}

SinkResult from_http(HttpResult&& http, SuccessPolicy policy) {
  SinkResult r;
  r.status = http.status;
  if (!http.error.empty()) {
    r.error = std::move(http.error);
  } else if (!is_success(http.status, policy)) {
    r.error = status_error(http.status, policy);
  }
  r.verdict = r.error.empty() ? SinkResult::Verdict::kAccepted : SinkResult::Verdict::kFailed;
  if (http.status == 429 || http.status == 503) {
    r.retry_after = parse_retry_after(http.retry_after, unix_ms_now());
  }
  r.body = std::move(http.body);
  return r;
}

class HttpSink final : public Sink {
 public:
  HttpSink(const SinkOptions& options, std::unique_ptr<HttpSender> sender)
      : options_(options), sender_(std::move(sender)) {}

  std::vector<SinkResult> deliver(const std::vector<const Request*>& requests,
                                  const std::string& url) override {
    std::vector<SinkResult> results(requests.size());
    std::vector<HttpCall> calls;
    std::vector<size_t> slot;  // maps a call back to its request
    const Url* parsed = parsed_url(url);
    for (size_t i = 0; i < requests.size(); ++i) {
      std::string error;
      if (parsed == nullptr) {
        error = "invalid URL: " + url_error_;
      } else if (auto call = make_call(*requests[i], *parsed, options_.user_agent, error)) {
        calls.push_back(std::move(*call));
        slot.push_back(i);
      } else {
        // A bad URL or secret: failed as before the sinks (a fixed rule is used by a replay).
        results[i].error = std::move(error);
      }
    }
    if (calls.size() == 1) {
      results[slot[0]] = from_http(sender_->send(calls[0]), options_.success);
    } else if (!calls.empty()) {
      auto answers = sender_->send_batch(calls);
      for (size_t c = 0; c < calls.size(); ++c) {
        results[slot[c]] = from_http(std::move(answers[c]), options_.success);
      }
    }
    return results;
  }

  bool stream(const std::string& url, const Next& next, const Done& done, int wake_fd) override {
    const Url* parsed = parsed_url(url);
    // A URL that does not parse: deliver() fails what was handed over, as for any URL.
    if (parsed == nullptr) return false;
    const HttpSender::NextCall next_call = [&](HttpCall& call, size_t& tag) {
      for (const Request* request; (request = next()) != nullptr;) {
        std::string error;
        auto made = make_call(*request, *parsed, options_.user_agent, error);
        if (!made) {
          // A bad secret: failed, as deliver() does; the next request is asked for.
          SinkResult r;
          r.error = std::move(error);
          done(*request, std::move(r));
          continue;
        }
        call = std::move(*made);
        tag = reinterpret_cast<uintptr_t>(request);  // the request outlives its call
        return true;
      }
      return false;
    };
    const HttpSender::CallDone call_done = [&](size_t tag, HttpResult&& result) {
      done(*reinterpret_cast<const Request*>(tag), from_http(std::move(result), options_.success));
    };
    return sender_->send_stream(*parsed, next_call, call_done, wake_fd);
  }

  void abort() override { sender_->abort(); }

 private:
  // `text` parsed, or nullptr (url_error_ says why). A lane's sink sends to the same few URLs
  // over and over: the last one is kept rather than parsed for every request.
  const Url* parsed_url(const std::string& text) {
    if (!url_text_ || *url_text_ != text) {
      url_text_ = text;
      url_error_.clear();
      url_ = parse_url(text, url_error_);
    }
    return url_ ? &*url_ : nullptr;
  }

  SinkOptions options_;
  std::optional<std::string> url_text_;
  std::optional<Url> url_;
  std::string url_error_;
  std::unique_ptr<HttpSender> sender_;
};

}  // namespace

std::unique_ptr<Sink> make_http_sink(const SinkOptions& options) {
  return make_http_sink(options,
                        make_http_sender(options.timeout, options.ca_file, options.http_spread));
}

std::unique_ptr<Sink> make_http_sink(const SinkOptions& options,
                                     std::unique_ptr<HttpSender> sender) {
  return std::make_unique<HttpSink>(options, std::move(sender));
}

}  // namespace folderhook::delivery
