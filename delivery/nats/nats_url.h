// NATS URLs in rules.toml: nats://[user:password@]host[:port][,host[:port]...]/SUBJECT, or
// tls://... for TLS. `{action}` in SUBJECT stands for the operation's action. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::delivery {

constexpr int kNatsDefaultPort = 4222;

struct NatsUrl {
  bool tls = false;
  std::string user;       // decoded userinfo, "" if none
  std::string password;
  std::vector<std::string> servers;  // "nats://host:port" or "tls://host:port", in order
  std::string subject;               // may hold {action}
};

// On failure returns nullopt and sets `error` to one line naming what is wrong (no secret).
std::optional<NatsUrl> parse_nats_url(std::string_view text, std::string& error);

// The subject with each "{action}" replaced by `action`; nullopt when the result is not a
// subject a message can be published to (an empty token, a wildcard, a space).
std::optional<std::string> nats_subject(const std::string& subject, std::string_view action);

}  // namespace folderhook::delivery
