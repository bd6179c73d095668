#include "delivery/nats/nats_url.h"

#include <algorithm>
#include <cctype>

#include "delivery/url.h"

namespace folderhook::delivery {
namespace {

constexpr std::string_view kPlaceholder = "{action}";

// A subject a message can be published to: dot-separated tokens, none empty, no wildcard
// token, printable ASCII without spaces.
bool publishable(std::string_view subject, std::string& error) {
  if (subject.empty()) {
    error = "the subject is empty";
    return false;
  }
  size_t start = 0;
  for (;;) {
    const size_t dot = subject.find('.', start);
    const std::string_view token = subject.substr(start, dot - start);
    if (token.empty()) {
      error = "the subject '" + std::string(subject) + "' has an empty token (two dots, or a dot at an end)";
      return false;
    }
    if (token == "*" || token == ">") {
      error = "the subject '" + std::string(subject) + "' has a wildcard; a message is published to one subject";
      return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  for (const char ch : subject) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      error = "the subject contains a space, a control character or a non-ASCII byte";
      return false;
    }
  }
  return true;
}

std::string replace_action(const std::string& subject, std::string_view action) {
  std::string out;
  size_t from = 0;
  for (size_t at; (at = subject.find(kPlaceholder, from)) != std::string::npos;) {
    out.append(subject, from, at - from);
    out.append(action);
    from = at + kPlaceholder.size();
  }
  out.append(subject, from);
  return out;
}

}  // namespace

std::optional<NatsUrl> parse_nats_url(std::string_view text, std::string& error) {
  if (has_space_or_control(text)) {
    error = "URL contains a space or control character";
    return std::nullopt;
  }
  const auto sep = text.find("://");
  std::string scheme(text.substr(0, sep == std::string_view::npos ? 0 : sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (sep == std::string_view::npos || (scheme != "nats" && scheme != "tls")) {
    error = "not a NATS URL (expected nats:// or tls://)";
    return std::nullopt;
  }
  NatsUrl url;
  url.tls = scheme == "tls";
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  if (rest.find_first_of("?#") < slash || (slash != std::string_view::npos &&
                                           rest.find_first_of("?#", slash) != std::string_view::npos)) {
    error = "NATS URL has a query or fragment ('?' or '#'); the token and credentials are "
            "[[folder]] keys (nats_token, nats_creds)";
    return std::nullopt;
  }
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    error = "NATS URL has no subject (nats://host:port/SUBJECT)";
    return std::nullopt;
  }
  std::string_view authority = rest.substr(0, slash);
  const std::string_view subject = rest.substr(slash + 1);
  if (!take_userinfo(authority, url.user, url.password)) {
    error = "NATS URL has a malformed percent escape in user:password";
    return std::nullopt;
  }
  size_t start = 0;
  for (;;) {
    const size_t comma = authority.find(',', start);
    std::string why;
    const auto server = parse_host_port(authority.substr(start, comma - start), why);
    if (!server) {
      error = "NATS URL has " + why;
      return std::nullopt;
    }
    const std::string host = server->ipv6 ? "[" + server->host + "]" : server->host;
    const int port = server->port != 0 ? server->port : kNatsDefaultPort;
    url.servers.push_back(scheme + "://" + host + ":" + std::to_string(port));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  url.subject = std::string(subject);
  // Any {action} stands for a word like "create": check the subject with one in place.
  std::string why;
  if (!publishable(replace_action(url.subject, "create"), why)) {
    error = "NATS URL: " + why;
    return std::nullopt;
  }
  if (replace_action(url.subject, "").find_first_of("{}") != std::string::npos) {
    error = "NATS URL: the subject has a '{' or '}' that is not part of {action}";
    return std::nullopt;
  }
  return url;
}

std::optional<std::string> nats_subject(const std::string& subject, std::string_view action) {
  std::string subject_for = replace_action(subject, action);
  std::string ignored;
  if (!publishable(subject_for, ignored)) return std::nullopt;
  return subject_for;
}

}  // namespace folderhook::delivery
