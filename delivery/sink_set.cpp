#include "delivery/sink_set.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "delivery/exec/exec_sink.h"
#include "delivery/exec/exec_url.h"
#include "delivery/http/http_sink.h"
#include "delivery/nats/nats_sink.h"
#include "delivery/nats/nats_url.h"
#include "delivery/url.h"

namespace folderhook::delivery {
namespace {

// "http" for http and https, "nats" for nats and tls, "exec" for exec:, "" for anything else.
std::string kind_of(const std::string& url) {
  if (is_exec_url(url)) return "exec";
  const auto sep = url.find("://");
  if (sep == std::string::npos) return "";
  std::string scheme = url.substr(0, sep);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme == "http" || scheme == "https") return "http";
  if (scheme == "nats" || scheme == "tls") return "nats";
  return "";
}

}  // namespace

Sink* SinkSet::for_url(const std::string& url, std::string& error) {
  const std::string kind = kind_of(url);
  if (kind.empty()) {
    const auto sep = url.find("://");
    error = sep == std::string::npos
                ? "URL has no scheme (expected http, https, nats, tls or exec)"
                : "unsupported URL scheme '" + url.substr(0, sep) +
                      "' (expected http, https, nats, tls or exec)";
    return nullptr;
  }
  std::lock_guard lock(mu_);
  auto& sink = sinks_[kind];
  if (!sink) {
    sink = kind == "http"   ? make_http_sink(options_)
           : kind == "nats" ? make_nats_sink(options_)
                            : make_exec_sink(options_);
    if (aborted_) sink->abort();
  }
  return sink.get();
}

void SinkSet::abort() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  for (auto& [kind, sink] : sinks_) sink->abort();
}

bool valid_url(const std::string& url, std::string& error) {
  const std::string kind = kind_of(url);
  if (kind == "nats") return parse_nats_url(url, error).has_value();
  if (kind == "exec") {
    const auto program = parse_exec_url(url, error);
    return program && check_exec_program(*program, error);
  }
  if (kind.empty() && url.find("://") != std::string::npos) {
    error = "unsupported URL scheme '" + url.substr(0, url.find("://")) +
            "' (expected http, https, nats, tls or exec)";
    return false;
  }
  return parse_url(url, error).has_value();
}

LaneShape lane_shape(const std::string& primary_url, int first_senders, int pipeline_depth) {
  if (kind_of(primary_url) == "nats") return LaneShape{1, kNatsBatch};
  // One program per call: `connections` threads run that many at once (exec_sink.h).
  if (kind_of(primary_url) == "exec") return LaneShape{std::max(1, first_senders), 1};
  if (pipeline_depth > 1) {
    return LaneShape{std::max(1, first_senders), static_cast<size_t>(pipeline_depth)};
  }
  const int spread = http_spread(first_senders, pipeline_depth);
  return LaneShape{1, static_cast<size_t>(spread), spread > 1};
}

}  // namespace folderhook::delivery
