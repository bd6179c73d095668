// Dispatcher: the public face of delivery/. Commits each submitted Request to the SQLite outbox
// (group commit) before its first attempt, sends it (through the sink of each URL's scheme,
// sink.h) to the primary URL then each redundant URL until one accepts, retries on the schedule, and moves it to the dead letters when the
// schedule runs out. Owns its own threads; never touches the caller's event loop.
//
// Threads: one writer owns the SQLite write connection and commits everything (new requests,
// attempt results) in group commits; each URL set gets a lane (lane.h) with its first-attempt
// threads (LaneShape, sink_set.h: for HTTP, one that spreads over `first_senders` connections,
// or with pipelining `first_senders` threads) and `retry_senders` for retries; a notifier
// thread sends the dead-letter email. The Logger is called from all of them.
//
// Ordering promise: within one URL set, first attempts start in submission order; with more
// than one first-attempt connection they may arrive out of order by up to first_senders - 1
// places (times pipeline_depth when pipelining). A URL set whose primary is NATS has one first
// sender, so its publishes keep the order. Retries are unordered. Delivery is at least once: a receiver
// dedupes on webhook-id. A URL set may be paced (max_per_second: every attempt takes a token)
// and may send its first attempts in batches (batch_max), one request each (lane.h).
//
// Memory: at most `window` committed requests are held in memory (queued, in flight, or
// waiting for their result to be committed); the rest wait only in the outbox and are read back
// in order as the window drains (window.h). A retry due later than retry_in_memory leaves
// memory until it is due. So a backlog of millions costs disk, not RAM.
//
// Full disk: when a commit fails, new requests stay in memory (at most max_held; beyond that
// they are dropped with an error log), nothing uncommitted is sent, and the commit is retried
// every second until space returns. One error line when it starts, one warn when it ends.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/logger.h"
#include "delivery/index_change.h"
#include "delivery/notify_options.h"
#include "delivery/request.h"
#include "delivery/retry.h"
#include "delivery/sink.h"

namespace folderhook::delivery {

// The pipeline depth the agent uses when pipelining is on: deep enough that a first sender is
// not bound by the round trip, shallow enough that a receiver which closes early costs little.
constexpr int kPipelineDepth = 64;

// One attempt, as its "delivery" log line tells it (README, Log fields): written after the
// commit that records its outcome.
struct AttemptLog {
  enum class Outcome { kDelivered, kRetry, kDead };
  std::string id, action, path, url;
  int attempt = 0;
  int status = 0;
  std::string error;
  int64_t ms = 0;
  bool catch_up = false;
  Outcome outcome = Outcome::kDelivered;
  int64_t next_at_ms = 0;  // kRetry: when the next attempt is due (Unix ms)
  size_t members = 0;      // a batch's: how many deliveries it carried (0: not a batch)
};
// Takes the attempts of one commit, in the order they happened, on the writer thread: it must
// be quick, must not block on I/O and must not call the dispatcher; it may move from the entries.
using AttemptLogger = std::function<void(std::vector<AttemptLog>& entries)>;
// The line's level ("info" delivered, "warn" retry, "error" dead) and its fields, as the Logger
// gets them when no attempt_logger is given: what an attempt_logger writes is this line.
std::string_view attempt_level(const AttemptLog& entry);
std::string_view attempt_outcome(const AttemptLog& entry);  // "delivered", "retry" or "dead"
nlohmann::json attempt_fields(AttemptLog&& entry);

struct DispatcherOptions {
  std::string state_dir;  // created 0700 if missing; holds outbox.db and the lock (0600)
  std::chrono::milliseconds timeout{10'000};  // connect and read, per URL
  // The waits after each failed attempt; when they run out the delivery is a dead letter
  // (empty: the first failure is).
  std::vector<std::chrono::milliseconds> retry = default_retry_schedule();
  SuccessPolicy success = SuccessPolicy::kAny2xx;
  std::string user_agent = "folderhook";
  NotifyOptions notify;
  // Connections per URL set for first attempts (they leave in submission order; LaneShape
  // says how many threads drive them) and sender threads for retries (a separate lane, so
  // that retries never delay first attempts).
  int first_senders = 4;
  int retry_senders = 2;
  // HTTP/1.1 pipelining of first attempts: a first sender writes up to this many queued
  // requests back to back on its connection before it reads their responses (in order, so
  // order is kept). 1 = off, one request at a time. Only for receivers that implement
  // pipelining: one that drops pipelined requests it has read (cpp-httplib 0.11's server does)
  // would have its answers taken for the dropped requests'. A receiver that closes the
  // connection with requests unanswered is handled: they are sent again, same webhook-id.
  int pipeline_depth = 1;
  // Requests held in memory while the outbox cannot be written (full disk); beyond this,
  // new requests are dropped with an error log.
  size_t max_held = 100'000;
  // How long attempt results with no new request to ride along wait before their own commit
  // (see DispatcherImpl::wait_for_work). Their log lines wait as long.
  std::chrono::milliseconds result_delay{20};
  // The least time from one commit of new requests to the next: the requests that come in the
  // meantime share the next commit. After a quiet moment a request is committed at once; in a
  // burst it waits at most this long. Each commit writes whole pages (the outbox's, its id
  // index's, the file index's) to the WAL, about as many for ten requests as for a hundred, and
  // syncing those bytes was the agent's largest CPU cost on disk.
  std::chrono::milliseconds commit_gap{2};
  // Committed requests held in memory at most, over all URL sets (window.h): ~1 KB each.
  // Enough to keep the senders fed (4 first senders x 64 pipelined is 256) many times over.
  size_t window = 10'000;
  // A retry due within this stays in memory; a later one is read back from the outbox when due.
  std::chrono::milliseconds retry_in_memory{5'000};
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  // Where the attempts' lines go. Empty: each is a "delivery" line through the Logger, its
  // fields a JSON object; the agent gives its own, which writes the same line without building
  // that object (the writer thread's largest cost after SQLite).
  AttemptLogger attempt_logger;
};

// What the sinks need of the options (sink.h).
inline SinkOptions sink_options(const DispatcherOptions& options) {
  return SinkOptions{options.timeout, options.ca_file, options.user_agent, options.success,
                     options.first_senders,
                     http_spread(options.first_senders, options.pipeline_depth)};
}

// How many committed requests are in memory (see window in DispatcherOptions).
struct MemoryFigures {
  size_t window = 0;
  size_t held = 0;       // now
  size_t peak = 0;       // the most at once since the start
  uint64_t read_back = 0;  // requests read back from the outbox (resume, backlog, retries)
  // The outbox cannot be written (full disk): `uncommitted` new requests wait in memory.
  bool outbox_failing = false;
  size_t uncommitted = 0;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Thread-safe and quick: queues the requests for the next group commit. The ids are
  // assigned there. Nothing is sent before it is committed.
  void submit(std::vector<Request>&& requests) { submit(std::move(requests), {}); }
  // The same, with the changes to the index of the watched trees that those requests report
  // (or that no request carries): committed in the same transaction, in order, never dropped.
  virtual void submit(std::vector<Request>&& requests,
                      std::vector<IndexChange>&& index_changes) = 0;
  // The folders indexed as they were when the outbox opened (no rows: read_index() reads
  // those); the first call takes them, later ones get none.
  virtual IndexSnapshot take_index() = 0;
  // Reads the stored index once everything submitted before this call is committed, and hands
  // it to `done` on the writer thread: the rows in path order and an empty error, or no rows and
  // why (the outbox cannot commit, or the dispatcher is shutting down; then possibly on the
  // caller's thread). `done` must be quick and must not call the dispatcher.
  using IndexRead = std::function<void(IndexSnapshot&& index, std::string&& error)>;
  virtual void read_index(IndexRead done) = 0;
  // Calls `done` once everything submitted before this call is committed (true), or its commit
  // failed (false), on the writer thread (or the caller's, at shutdown). It must be quick and
  // must not call the dispatcher. What a producer waits on to bound what it has in flight.
  using Committed = std::function<void(bool committed)>;
  virtual void after_commit(Committed done) = 0;
  // Thread-safe.
  virtual MemoryFigures memory() const = 0;
  // Commits everything submitted, stops the senders (an attempt in flight is abandoned and
  // will be sent again at the next start: delivery is at least once) and joins the threads.
  virtual void shutdown() = 0;
};

// Opens (or creates) the outbox in options.state_dir, takes its exclusive lock, and starts the
// threads; pending deliveries from an earlier run are sent again. The state_dir is made private
// first (prepare_state_dir, state_dir.h; what it tightens is logged as a warning). On failure
// returns nullptr and sets `error` (one line, for the operator).
std::unique_ptr<Dispatcher> open_dispatcher(DispatcherOptions options, Logger logger,
                                            std::string& error);

}  // namespace folderhook::delivery
