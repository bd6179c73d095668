// Sink: one kind of destination behind one family of URL schemes (http/ for http and https,
// nats/ for nats and tls, exec/ for exec:). delivery/ keeps what every destination shares (the
// outbox, the window, the lanes, the retry schedule, dead letters, the email, status) and hands a sink a
// batch of committed requests for one of their URLs; the sink answers, per request, accepted,
// failed (retried on the schedule) or rejected for good (a dead letter at once).
//
// Implementing a sink (a new folder beside http/ and nats/, registered in sink_set.cpp):
//   - Threads: a SinkSet belongs to one lane thread (a first-attempt or a retry sender) and
//     makes its sinks on that thread; deliver() and stream() are only ever called from it,
//     one call at a time. abort() may be called from any thread, also while either runs.
//   - Blocking: deliver() may block on the network, but must return within about twice
//     SinkOptions::timeout per call (a batch is one call: bound its wait as a whole, not per
//     request), and at once after abort().
//   - Ownership: the sink owns its connections (kept across calls, reopened when broken); it
//     borrows the requests for the duration of the call and keeps no pointer to them.
//   - Order: requests leave in the order given (one lane's first attempts are in the order the
//     operations happened). A sink that keeps many in flight must still put them on the wire
//     in that order.
//   - Idempotence: a request may be handed over again after a crash, a lost answer or a
//     retry, always with the same Request::id. A sink passes the id on so that the destination
//     can drop the duplicate (HTTP: webhook-id; NATS: Nats-Msg-Id).
//   - Logging: none; what happened goes into SinkResult::error (one line, no secrets: the
//     dispatcher logs it with the masked URL).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/request.h"
#include "delivery/retry.h"

namespace folderhook::delivery {

enum class SuccessPolicy { kAny2xx, kExactly200 };

// The error of a call that abort() abandoned: the row stays pending and is sent again at the
// next start (never a retry, never a dead letter).
inline constexpr std::string_view kAborted = "aborted";

struct SinkOptions {
  std::chrono::milliseconds timeout{10'000};  // connect, and the wait for each answer
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  std::string user_agent = "folderhook";
  SuccessPolicy success = SuccessPolicy::kAny2xx;  // HTTP's rule for an accepting status
  // [delivery] connections: exec: runs at most this many programs of one URL per folder at once.
  int connections = 1;
  // HTTP: the connections to one origin over which a call's requests are spread, one request
  // in flight on each (connections > 1 without pipelining: one thread drives them); 1: a
  // call's requests are pipelined on one connection, or sent one at a time.
  int http_spread = 1;
};

// SinkOptions::http_spread for `connections` and a pipeline depth: with pipelining each of
// `connections` threads pipelines on a connection of its own (1); without it, one thread
// spreads over all of them (lane_shape, sink_set.h).
inline int http_spread(int connections, int pipeline_depth) {
  return pipeline_depth > 1 || connections < 1 ? 1 : connections;
}

struct SinkResult {
  enum class Verdict { kAccepted, kFailed, kRejected };
  Verdict verdict = Verdict::kFailed;
  int status = 0;      // the protocol's status worth logging (HTTP's), 0 when none
  std::string error;   // "" when accepted; one line, no secrets
  std::string body;    // what the destination answered, first 2 KB, kept for dead letters
  // Failed: the destination asked to wait at least this long (HTTP Retry-After on 429/503).
  std::optional<Millis> retry_after;
};

class Sink {
 public:
  virtual ~Sink() = default;
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Sends each request to `url` (one of request.urls, of this sink's schemes), in order. One
  // result per request, in order.
  virtual std::vector<SinkResult> deliver(const std::vector<const Request*>& requests,
                                          const std::string& url) = 0;
  // Optional, for a sink that keeps several requests in flight from one thread (HTTP spread
  // over connections): sends to `url` the requests `next` gives (nullptr: none now), each as
  // soon as it can take one more, and tells `done` each result as it comes, in any order. When
  // `next` has nothing while requests are in flight, it is asked again after a result, or when
  // `wake_fd` (an eventfd or a timerfd; -1 for none) becomes readable. Returns once `next` has
  // nothing and nothing is in flight; after abort(), at once, each request taken and not
  // answered done as kAborted. It runs as long as `next` gives requests; each one's wait is
  // bounded as in deliver(), and the other rules are deliver()'s. false (nothing called): use
  // deliver().
  using Next = std::function<const Request*()>;
  using Done = std::function<void(const Request& request, SinkResult&& result)>;
  virtual bool stream(const std::string& url, const Next& next, const Done& done, int wake_fd) {
    (void)url, (void)next, (void)done, (void)wake_fd;
    return false;
  }
  // From any thread: abandons the call in flight (its results say kAborted) and makes every
  // later deliver() fail at once the same way.
  virtual void abort() = 0;
};

}  // namespace folderhook::delivery
