// The NATS JetStream sink (sink.h): nats:// and tls:// URLs (nats_url.h). Each request is
// published to its subject as the JSON object of its fields (payload.h) with the headers
// Nats-Msg-Id = webhook-id, webhook-id, webhook-timestamp, webhook-signature (when the folder
// has a secret) and Content-Type: application/json. Accepted means JetStream's publish
// acknowledgement came back (a duplicate within the stream's duplicate window is acknowledged
// too, and not stored again). No stream for the subject, JetStream off, a full stream, no
// acknowledgement within the timeout: failed, retried on the schedule.
//
// One connection per server list and credentials, kept across calls; a batch is published
// asynchronously in order on it and its acknowledgements matched by Nats-Msg-Id as they come
// (on the client library's thread), deliver() returning when all came or the timeout passed.
#pragma once

#include <cstddef>
#include <memory>

#include "delivery/sink.h"

namespace folderhook::delivery {

// The requests a NATS lane hands its sink at once (LaneShape): publishes in flight together.
constexpr size_t kNatsBatch = 2048;

std::unique_ptr<Sink> make_nats_sink(const SinkOptions& options);

}  // namespace folderhook::delivery
