#include "delivery/http/sender.h"

#include <atomic>
#include <map>
#include <mutex>

#include "delivery/http/connection.h"
#include "delivery/signature.h"

namespace folderhook::delivery {
namespace {

using Clock = std::chrono::steady_clock;

std::string serialize(const HttpCall& call) {
  const Url& url = call.url;
  const bool default_port = (url.scheme == "http" && url.port == 80) ||
                            (url.scheme == "https" && url.port == 443);
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (!default_port) host += ":" + std::to_string(url.port);
  const bool post = call.method == "POST";
  std::string out;
  out.reserve(256 + call.target.size() + call.body.size());
  out.append(call.method).append(" ").append(call.target).append(" HTTP/1.1\r\nHost: ");
  out.append(host).append("\r\n");
  for (const auto& [name, value] : call.headers) out.append(name).append(": ").append(value).append("\r\n");
  if (!url.user.empty() || !url.password.empty()) {
    out.append("Authorization: Basic ").append(base64_encode(url.user + ":" + url.password)).append("\r\n");
  }
  if (post) {
    out.append("Content-Type: ")
        .append(call.content_type.empty() ? "application/json" : call.content_type)
        .append("\r\n");
  }
  if (post || !call.body.empty()) {
    out.append("Content-Length: ").append(std::to_string(call.body.size())).append("\r\n");
  }
  out.append("\r\n").append(call.body);
  return out;
}

class PipeliningSender final : public HttpSender {
 public:
  PipeliningSender(std::chrono::milliseconds timeout, std::string ca_file)
      : timeout_(timeout), ca_file_(std::move(ca_file)) {}
  ~PipeliningSender() override {
    origins_.clear();
    if (tls_ != nullptr) free_tls_context(tls_);
  }

  HttpResult send(const HttpCall& call) override {
    std::vector<HttpResult> results(1);
    send_run(&call, 1, results.data());
    return std::move(results[0]);
  }

  std::vector<HttpResult> send_batch(const std::vector<HttpCall>& calls) override {
    std::vector<HttpResult> results(calls.size());
    for (size_t i = 0; i < calls.size();) {
      size_t j = i + 1;
      const std::string key = key_of(calls[i].url);
      while (j < calls.size() && key_of(calls[j].url) == key) ++j;
      send_run(&calls[i], j - i, &results[i]);
      i = j;
    }
    return results;
  }

  void abort() override {
    std::lock_guard lock(mu_);
    aborted_.store(true);
    for (auto& [key, origin] : origins_) {
      if (origin.conn) origin.conn->shutdown();
    }
  }

 private:
  struct Origin {
    std::unique_ptr<HttpConnection> conn;
    int answered = 0;     // responses read on conn
    bool serial = false;  // the receiver does not take pipelined requests
  };

  static std::string key_of(const Url& url) {
    return url.origin() + "\n" + url.user + "\n" + url.password;
  }

  std::string no_response() const {
    return "no response within " + std::to_string(timeout_.count()) +
           " ms or connection dropped (read failed)";
  }

  void drop(Origin& origin) {
    std::lock_guard lock(mu_);
    origin.conn.reset();
    origin.answered = 0;
  }

  // Opens the origin's connection if it has none. "" on success.
  std::string connect(const Url& url, Origin& origin) {
    std::string error;
    if (url.scheme == "https" && tls_ == nullptr) {
      tls_ = make_tls_context(ca_file_, error);
      if (tls_ == nullptr) return error;
    }
    auto conn = HttpConnection::open(url, timeout_, tls_, error);
    if (!conn) return error;
    std::lock_guard lock(mu_);
    if (aborted_.load()) return "aborted";
    origin.conn = std::move(conn);
    origin.answered = 0;
    return "";
  }

  Origin& origin_for(const Url& url) {
    std::lock_guard lock(mu_);
    // An unbounded number of origins would hold sockets forever; old ones reconnect on demand.
    const std::string key = key_of(url);
    if (origins_.size() >= 64 && origins_.find(key) == origins_.end()) origins_.clear();
    return origins_[key];
  }

  // Calls to one origin. Each round writes what the window allows, then reads the responses
  // in order; a round ends early when the connection ends, and the unanswered calls go into
  // the next round on a new connection. Every round answers or fails at least one call,
  // except a round on a reused connection that the receiver had closed (it is retried once,
  // on a fresh connection).
  void send_run(const HttpCall* calls, size_t n, HttpResult* results) {
    Origin& origin = origin_for(calls[0].url);
    std::vector<std::string> wire(n);
    for (size_t i = 0; i < n; ++i) wire[i] = serialize(calls[i]);
    const auto fail_rest = [&](size_t from, const std::string& error) {
      for (size_t k = from; k < n; ++k) results[k].error = error;
    };
    size_t next = 0;
    std::string out;
    while (next < n) {
      if (aborted_.load()) return fail_rest(next, "aborted");
      const bool reused = origin.conn != nullptr;
      if (!reused) {
        // A receiver that cannot be reached fails every call of the run alike.
        if (std::string error = connect(calls[0].url, origin); !error.empty()) {
          return fail_rest(next, aborted_.load() ? "aborted" : error);
        }
      }
      size_t end = next + 1;
      size_t bytes = wire[next].size();
      while (!origin.serial && end < n && bytes + wire[end].size() <= kMaxPipelinedBytes) {
        bytes += wire[end++].size();
      }
      bool written;
      if (end == next + 1) {
        written = origin.conn->write_all(wire[next]);
      } else {
        out.clear();
        for (size_t k = next; k < end; ++k) out += wire[k];
        written = origin.conn->write_all(out);
      }
      if (!written) {
        drop(origin);
        if (aborted_.load()) return fail_rest(next, "aborted");
        if (reused) continue;  // a keep-alive connection the receiver had closed
        results[next++].error = "sending the request failed (connection dropped or write timed out)";
        continue;
      }
      next = read_round(calls, next, end, reused, origin, results);
    }
  }

  // Reads the responses of calls [first, end); returns the first call not yet done.
  size_t read_round(const HttpCall* calls, size_t first, size_t end, bool reused, Origin& origin,
                    HttpResult* results) {
    for (size_t k = first; k < end; ++k) {
      ResponseParser parser(calls[k].method == "HEAD", kMaxResponseBody, kKeptResponseBody);
      const auto kind = origin.conn->read_response(parser, Clock::now() + 2 * timeout_);
      if (aborted_.load()) {
        drop(origin);
        for (size_t i = k; i < end; ++i) results[i].error = "aborted";
        return end;
      }
      HttpResult& r = results[k];
      const bool pipelined = k > first;
      switch (kind) {
        case HttpConnection::ReadEnd::kResponse:
          r.status = parser.status();
          r.body = parser.body();
          r.retry_after = parser.retry_after();
          ++origin.answered;
          if (!parser.keep_alive()) {
            // A receiver that closes after each response gets one request at a time.
            if (k + 1 < end && origin.answered <= 1) origin.serial = true;
            drop(origin);
            return k + 1;
          }
          continue;
        case HttpConnection::ReadEnd::kNothing:
          // Closed without a word: stale keep-alive, or a receiver that stops reading
          // pipelined requests. Sent again on a new connection, once.
          if (pipelined && origin.answered <= 1) origin.serial = true;
          drop(origin);
          if (reused || pipelined) return k;
          r.error = no_response();
          return k + 1;
        case HttpConnection::ReadEnd::kTimeout:
          drop(origin);
          if (pipelined) {
            // It may never have read the requests behind the first: no more pipelining.
            origin.serial = true;
            return k;
          }
          r.error = no_response();
          return k + 1;
        case HttpConnection::ReadEnd::kDeadline:
          r.status = parser.status();
          r.body = parser.body();
          r.error = "response not complete within " + std::to_string(2 * timeout_.count()) +
                    " ms; stopped reading";
          drop(origin);
          return k + 1;
        case HttpConnection::ReadEnd::kFailed:
          r.status = parser.status();
          r.body = parser.body();
          if (parser.body_too_large()) {
            r.error = parser.error();
          } else if (parser.status() != 0) {
            r.error = "response body cut short (connection dropped or read timed out)";
          } else if (!parser.error().empty()) {
            r.error = "invalid response: " + parser.error();
          } else {
            r.error = no_response();
          }
          drop(origin);
          return k + 1;
      }
    }
    return end;
  }

  const std::chrono::milliseconds timeout_;
  const std::string ca_file_;
  SSL_CTX* tls_ = nullptr;  // made at the first https call
  std::mutex mu_;  // guards origins_' connections against abort() from another thread
  std::map<std::string, Origin> origins_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

std::unique_ptr<HttpSender> make_http_sender(std::chrono::milliseconds timeout,
                                             std::string ca_file) {
  return std::make_unique<PipeliningSender>(timeout, std::move(ca_file));
}

}  // namespace folderhook::delivery
