// The HTTP sink (sink.h): http:// and https:// URLs. A request goes out as the folder's method
// (GET with the query string, POST with the body) with the webhook headers (attempt.h); it is
// accepted when the status passes SinkOptions::success. A batch is pipelined on one keep-alive
// connection per origin (HttpSender::send_batch).
#pragma once

#include <memory>

#include "delivery/http/sender.h"
#include "delivery/sink.h"

namespace folderhook::delivery {

std::unique_ptr<Sink> make_http_sink(const SinkOptions& options);
// The same over a given sender (tests plug in their own).
std::unique_ptr<Sink> make_http_sink(const SinkOptions& options,
                                     std::unique_ptr<HttpSender> sender);

}  // namespace folderhook::delivery
