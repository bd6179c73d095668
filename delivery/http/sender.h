// HttpSender: the seam between the attempt logic and the network. One sender belongs to one
// thread; it keeps one keep-alive HTTP/1.1 connection per origin (scheme, host, port and
// credentials). Only abort() may be called from another thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "delivery/url.h"

namespace folderhook::delivery {

// What is read of a response body at most; a longer body fails the attempt (issue 4: a
// gigabyte body is a failed attempt, never a memory blow-up).
constexpr size_t kMaxResponseBody = 64 * 1024;
// What a pipelined batch writes at most before it reads (beyond its first request), so that
// neither side can block writing while the other does too.
constexpr size_t kMaxPipelinedBytes = 64 * 1024;
// What is kept of the body for dead letters.
constexpr size_t kKeptResponseBody = 2048;
constexpr const char* kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";

struct HttpCall {
  std::string method = "GET";
  Url url;
  std::string target;  // path and query, sent as is (no re-encoding)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;
};

struct HttpResult {
  int status = 0;           // 0 when no status line arrived
  std::string error;        // "" when a complete response arrived (any status)
  std::string body;         // first kKeptResponseBody bytes
  std::string retry_after;  // the Retry-After header, "" if none
};

class HttpSender {
 public:
  virtual ~HttpSender() = default;
  virtual HttpResult send(const HttpCall& call) = 0;
  // Calls to one origin, pipelined on one connection where the receiver allows it: written
  // back to back in order, their responses read in order. A request the receiver left
  // unanswered when it closed the connection is sent again on a new connection (a receiver
  // that does so without warning is then given one request at a time). A sender made with
  // connections > 1 spreads them over that many connections instead, one request in flight on
  // each, written in order as connections come free. One result per call, in order. The
  // default sends them one by one.
  virtual std::vector<HttpResult> send_batch(const std::vector<HttpCall>& calls) {
    std::vector<HttpResult> results;
    for (const auto& call : calls) results.push_back(send(call));
    return results;
  }
  // Calls to one origin, one at a time from `next` (false: none now; it fills the call and a
  // tag of the caller's), each written as soon as one of the sender's connections is free,
  // one request in flight on each; `done` gets each result with its tag, in the order they
  // come. When `next` has nothing while calls are in flight, it is asked again after an answer,
  // or when `wake_fd` (an eventfd or a timerfd; -1 for none) becomes readable (it is read).
  // Returns once `next` has nothing and nothing is in flight; at once after abort(), each call
  // taken and not answered done as "aborted". false (nothing called): this sender has one
  // connection per origin and does not stream.
  using NextCall = std::function<bool(HttpCall& call, size_t& tag)>;
  using CallDone = std::function<void(size_t tag, HttpResult&& result)>;
  virtual bool send_stream(const Url& url, const NextCall& next, const CallDone& done,
                           int wake_fd) {
    (void)url, (void)next, (void)done, (void)wake_fd;
    return false;
  }
  // From any thread: abandons the call in flight and makes every later send() fail at once.
  virtual void abort() = 0;
};

// timeout bounds the connect and each read; the whole response must also arrive within
// twice the timeout, so that a receiver trickling bytes cannot hold a sender forever.
// connections > 1: send_stream() and send_batch() spread calls over that many connections per
// origin, one request in flight on each, and never pipeline; send() uses the first of them.
std::unique_ptr<HttpSender> make_http_sender(std::chrono::milliseconds timeout,
                                             std::string ca_file = kSystemCaFile,
                                             int connections = 1);

}  // namespace folderhook::delivery
