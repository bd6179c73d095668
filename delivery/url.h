// URL helpers shared by the agent (building query strings, validating rules.toml URLs) and
// the dispatcher (splitting a URL into the client key and the request target). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace folderhook::delivery {

// Percent-encodes every byte except the unreserved set (A-Z a-z 0-9 - . _ ~), with uppercase
// hex. Works on arbitrary bytes (not only UTF-8): a space becomes %20, never '+'.
std::string percent_encode(std::string_view bytes);

// Inverse of percent_encode. '+' stays '+'. Returns nullopt on a malformed escape ("%4", "%zz").
std::optional<std::string> percent_decode(std::string_view text);

struct Url {
  std::string scheme;    // "http" or "https", lower case
  std::string user;      // decoded userinfo, "" if none
  std::string password;
  std::string host;      // lower case; IPv6 literals without brackets
  int port = 0;          // explicit or the scheme's default
  std::string target;    // path and query as written, "/" when the URL has no path

  // "scheme://host:port" (brackets around IPv6): the key of a keep-alive connection.
  std::string origin() const;
};

// True when `text` holds a byte that a URL never holds as written: a space, a control
// character or DEL (0x00-0x20, 0x7F).
bool has_space_or_control(std::string_view text);

// The parts of a URL's authority that parse_url and parse_nats_url read the same way.

// Splits a "user[:password]@" prefix off `authority` at its last '@', percent-decoding both;
// `authority` keeps what follows. Without an '@' nothing changes. False on a malformed escape.
bool take_userinfo(std::string_view& authority, std::string& user, std::string& password);

struct HostPort {
  std::string host;  // lower case; an IPv6 literal without its brackets
  bool ipv6 = false;
  int port = 0;      // 0 when the text names none
};

// "host[:port]" or "[IPv6][:port]". The host is letters, digits, '-', '.' and '_'; the port
// 1-65535. On failure returns nullopt and sets `error` to a phrase that reads after "URL has "
// ("no host", "an invalid port '0' (expected 1-65535)").
std::optional<HostPort> parse_host_port(std::string_view text, std::string& error);

// Accepts http:// and https:// URLs with optional user:password@, a host, an optional port and
// an optional path and query. A fragment is refused (it would never reach the receiver). On
// failure returns nullopt and sets `error` to one line naming what is wrong.
std::optional<Url> parse_url(std::string_view text, std::string& error);

// The URL with any password (and user) replaced by "***", and the value of every query or
// fragment parameter whose name names a credential (names_a_credential) replaced by "***",
// for logs and status output. A text that does not parse as a URL comes back with everything
// before the last '@' of the authority masked, so a secret never leaks through a malformed
// URL either.
std::string mask_url(std::string_view text);

// True when a query parameter's (decoded) name looks like it carries a credential: one of its
// words (split at non-alphanumerics and at camelCase) is key, sig, signature, secret, password,
// pass, pwd, auth, token, credential, jwt, hmac, session...; or it contains token, secret,
// passw, apikey, signature or credential written as one word ("apikey", "authtoken").
// Case-insensitive. Errs towards masking: a log without a value is still useful.
bool names_a_credential(std::string_view name);

// Appends "?query" (or "&query" when the URL already has a query) to a URL or request target.
std::string append_query(std::string_view url_or_target, std::string_view query);

}  // namespace folderhook::delivery
