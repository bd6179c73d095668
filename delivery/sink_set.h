// SinkSet: the sinks of one sender thread, one per kind of URL, made when first needed. The
// only place that knows which folder serves which scheme (http/, nats/, exec/).
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "delivery/sink.h"

namespace folderhook::delivery {

class SinkSet {
 public:
  explicit SinkSet(SinkOptions options) : options_(std::move(options)) {}
  SinkSet(const SinkSet&) = delete;
  SinkSet& operator=(const SinkSet&) = delete;

  // The owner thread's: the sink for the URL's scheme, or nullptr and `error` when no sink
  // serves it (a URL that can never be delivered: the caller rejects it for good).
  Sink* for_url(const std::string& url, std::string& error);
  // From any thread: aborts every sink, also those made later (sink.h).
  void abort();
  const SinkOptions& options() const { return options_; }

 private:
  SinkOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Sink>> sinks_;  // by kind ("http", "nats")
  bool aborted_ = false;
};

// A rules URL as `check` and the config see it: one that some sink can serve. false and
// `error` (one line) otherwise.
bool valid_url(const std::string& url, std::string& error);

// The shape of the lane of a URL set, from its primary URL: how many first-attempt threads,
// how many requests each takes at once, and whether it streams them (Sink::stream). HTTP with
// pipelining: `first_senders` threads, each pipelining up to pipeline_depth. HTTP without it,
// over more than one connection: one thread that streams over `first_senders` connections
// (http_spread, sink.h). NATS: one thread (publishes stay in order) with large batches (the
// acknowledgements of a batch are awaited together). exec: `first_senders` threads, one
// program each.
struct LaneShape {
  int first_senders = 1;
  size_t batch = 1;
  bool stream = false;
};
LaneShape lane_shape(const std::string& primary_url, int first_senders, int pipeline_depth);

}  // namespace folderhook::delivery
