// StreamConsumer: the relay's side of JetStream (nats.c): one connection, the durable pull
// consumer on the source stream (created when missing, so that any relay may be the first),
// and the dead-letter stream (created when missing). Everything a relay must not lose lives
// there: a message is pending until acknowledged, a negative acknowledgement with a delay is
// the retry's timer, the delivery count in its metadata is the attempt number, and a dead
// letter is a message of the dead-letter stream. Owned by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nats/nats.h>

#include "delivery/nats/nats_connection.h"
#include "relay/relay_config.h"

namespace folderhook::relay {

// The consumer's counts as the server gives them (consumer info).
struct ConsumerFigures {
  uint64_t pending = 0;        // in the stream, not yet handed to any relay
  int64_t ack_pending = 0;     // handed out, not yet acknowledged (in flight or waiting a retry)
  int64_t redelivered = 0;     // handed out more than once and not yet acknowledged
  int64_t waiting = 0;         // pull requests of relays waiting for messages
  uint64_t delivered_seq = 0;  // the last stream sequence handed out
};

// What a dead letter carries beside the message (headers of the dead-letter message).
struct DeadInfo {
  std::string id;  // webhook-id
  uint64_t stream_seq = 0;
  std::string subject;  // the original message's
  int attempts = 0;
  int last_status = 0;
  std::string last_error;
  std::string url;  // masked
  int64_t died_ms = 0;
};

// A message fetched, with its metadata read.
struct Fetched {
  natsMsg* msg = nullptr;  // owned: destroyed by the StreamConsumer's release()
  uint64_t stream_seq = 0;
  int delivered = 1;  // this is its n-th delivery (1 = first)
  std::string id;     // webhook-id, else Nats-Msg-Id, else "seq-<stream_seq>"
};

class StreamConsumer {
 public:
  // Connects, ensures both streams' consumer / dead stream, and binds a pull subscription.
  // nullptr and `error` (one line) when it cannot.
  static std::unique_ptr<StreamConsumer> open(const RelayConfig& config, std::string& error);
  // Only connects (status, replay, dead-letters): no consumer is made or bound.
  static std::unique_ptr<StreamConsumer> connect(const RelayConfig& config, std::string& error);
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;

  // Up to `batch` messages, waiting at most `wait` for the first. Empty on timeout; `error`
  // set when the server could not be asked (the caller waits and tries again).
  std::vector<Fetched> fetch(int batch, std::chrono::milliseconds wait, std::string& error);
  // The answers about a fetched message (false and `error` when it could not be sent; the
  // server then hands it out again after AckWait).
  bool ack(const Fetched& m, std::string& error);
  bool nak(const Fetched& m, std::chrono::milliseconds delay, std::string& error);
  bool in_progress(const Fetched& m);
  void release(Fetched& m);
  // Publishes the dead letter (waits for JetStream's acknowledgement): the original's data and
  // headers, plus Folderhook-* headers from `info`.
  bool publish_dead(const Fetched& m, const DeadInfo& info, std::string& error);

  bool figures(ConsumerFigures& out, std::string& error);
  jsCtx* js() { return connection_->js(); }
  const RelayConfig& config() const { return config_; }
  std::chrono::milliseconds ack_wait() const { return ack_wait_; }

 private:
  explicit StreamConsumer(const RelayConfig& config) : config_(config) {}
  bool ensure_consumer(std::string& error);
  bool ensure_dead_stream(std::string& error);

  const RelayConfig& config_;
  std::unique_ptr<delivery::NatsConnection> connection_;
  natsSubscription* sub_ = nullptr;
  std::chrono::milliseconds ack_wait_{0};
};

// A header's value of a message, "" when absent.
std::string header_of(natsMsg* msg, const char* name);

}  // namespace folderhook::relay
