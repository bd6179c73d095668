// NatsConnection: one connection to a NATS server list (nats.c), with its JetStream context
// set for asynchronous publishes whose acknowledgements go to one handler. Owned by one sink;
// the handler runs on the library's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nats/nats.h>

#include "delivery/nats/nats_url.h"
#include "delivery/sink.h"

namespace folderhook::delivery {

// The settings that make a connection (and key it): servers, credentials, TLS.
struct NatsTarget {
  NatsUrl url;  // subject ignored
  std::string token;
  std::string creds_file;
  std::string key() const;
};

class NatsConnection {
 public:
  // (message, ack or nullptr, error or nullptr): one call per published message.
  using AckHandler = std::function<void(natsMsg* msg, jsPubAck* ack, jsPubAckErr* err)>;

  // Connects within options.timeout (each server in turn); nullptr and `error` otherwise.
  static std::unique_ptr<NatsConnection> open(const NatsTarget& target, const SinkOptions& options,
                                              AckHandler on_ack, std::string& error);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  // For js_PublishMsgAsync; marks that something may await an acknowledgement.
  jsCtx* publisher() {
    published_ = true;
    return js_;
  }
  jsCtx* js() const { return js_; }
  // Closed for good (reconnects gave up): make a new one.
  bool closed() const;
  // Takes back the messages still awaiting an acknowledgement (their acks are then dropped).
  void forget_pending();

 private:
  NatsConnection() = default;
  static void on_ack(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* self);

  AckHandler handler_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  // nats.c 3.4.1's js_PublishAsyncGetPendingList crashes on a context that never published.
  bool published_ = false;
};

// natsStatus as words, with the library's last error when it says more.
std::string nats_error_text(natsStatus status);

}  // namespace folderhook::delivery
