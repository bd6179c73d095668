#include "delivery/url.h"

#include <algorithm>
#include <cctype>

namespace folderhook::delivery {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string percent_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    // isalnum is locale-dependent for bytes >= 0x80; restrict it to ASCII.
    if (c < 0x80 && is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string Url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c == 0x7F;
  });
}

bool take_userinfo(std::string_view& authority, std::string& user, std::string& password) {
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return true;
  const std::string_view userinfo = authority.substr(0, at);
  authority = authority.substr(at + 1);
  const auto colon = userinfo.find(':');
  auto decoded_user = percent_decode(userinfo.substr(0, colon));
  auto decoded_password = colon == std::string_view::npos
                              ? std::optional<std::string>("")
                              : percent_decode(userinfo.substr(colon + 1));
  if (!decoded_user || !decoded_password) return false;
  user = std::move(*decoded_user);
  password = std::move(*decoded_password);
  return true;
}

std::optional<HostPort> parse_host_port(std::string_view text, std::string& error) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = "an unterminated IPv6 address '['";
      return std::nullopt;
    }
    out.ipv6 = true;
    out.host = lower(text.substr(1, close - 1));
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected text after the IPv6 address";
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) port_text = "?";
    }
  } else {
    const auto colon = text.find(':');
    out.host = lower(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) port_text = "?";
    }
    for (const char ch : out.host) {
      const auto c = static_cast<unsigned char>(ch);
      if (std::isalnum(c) == 0 && c != '-' && c != '.' && c != '_') {
        error = "a host '" + out.host + "' that contains an invalid character";
        return std::nullopt;
      }
    }
  }
  if (out.host.empty()) {
    error = "no host";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    int port = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) {
        port = -1;
        break;
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
      error = "an invalid port '" + std::string(port_text == "?" ? "" : port_text) +
              "' (expected 1-65535)";
      return std::nullopt;
    }
    out.port = port;
  }
  return out;
}

std::optional<Url> parse_url(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "URL is empty";
    return std::nullopt;
  }
  if (has_space_or_control(text)) {
    error = "URL contains a space or control character (percent-encode it)";
    return std::nullopt;
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    error = "URL has no scheme (expected http:// or https://)";
    return std::nullopt;
  }
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    error = "unsupported URL scheme '" + std::string(text.substr(0, sep)) +
            "' (expected http or https)";
    return std::nullopt;
  }
  if (text.find('#') != std::string_view::npos) {
    error = "URL has a fragment (#...), which is never sent to the receiver";
    return std::nullopt;
  }
  std::string_view rest = text.substr(sep + 3);
  const auto auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  const std::string_view target =
      auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);

  if (!take_userinfo(authority, url.user, url.password)) {
    error = "URL has a malformed percent escape in user:password";
    return std::nullopt;
  }

  std::string why;
  auto host_port = parse_host_port(authority, why);
  if (!host_port) {
    error = "URL has " + why;
    return std::nullopt;
  }
  url.host = std::move(host_port->host);
  url.port = host_port->port != 0 ? host_port->port : url.scheme == "https" ? 443 : 80;
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

bool names_a_credential(std::string_view name) {
  // Words of the name: split at anything not a letter or digit, and where camelCase turns to
  // upper case ("apiKey", "X-Amz-Signature", "access_token").
  std::string words;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool upper_after_lower = std::isupper(c) != 0 && i > 0 &&
                                   std::islower(static_cast<unsigned char>(name[i - 1])) != 0;
    if (c >= 0x80 || std::isalnum(c) == 0 || upper_after_lower) words.push_back(' ');
    if (c < 0x80 && std::isalnum(c) != 0) words.push_back(static_cast<char>(std::tolower(c)));
  }
  static constexpr std::string_view kWords[] = {
      "key",  "sig", "signature", "secret", "password", "passwd", "pass",  "pwd",
      "auth", "authorization", "token", "credential", "credentials", "jwt", "hmac", "session"};
  // Names written as one word that still carry a credential ("apikey", "authtoken").
  static constexpr std::string_view kParts[] = {"token", "secret", "passw", "apikey",
                                                "signature", "credential"};
  std::string joined;
  size_t begin = 0;
  while (begin <= words.size()) {
    size_t end = words.find(' ', begin);
    if (end == std::string::npos) end = words.size();
    const std::string_view word = std::string_view(words).substr(begin, end - begin);
    for (const std::string_view w : kWords) {
      if (word == w) return true;
    }
    joined += word;
    begin = end + 1;
  }
  for (const std::string_view part : kParts) {
    if (joined.find(part) != std::string::npos) return true;
  }
  return false;
}

namespace {

// Replaces the value of every query (or fragment) parameter whose name names a credential.
std::string mask_query(std::string_view query) {
  std::string out;
  size_t begin = 0;
  while (begin <= query.size()) {
    size_t end = query.find_first_of("&;#", begin);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view param = query.substr(begin, end - begin);
    const auto eq = param.find('=');
    const std::string_view name = param.substr(0, eq);
    const std::optional<std::string> decoded = percent_decode(name);
    if (eq != std::string_view::npos && names_a_credential(decoded ? *decoded : name)) {
      out += name;
      out += "=***";
    } else {
      out += param;
    }
    if (end < query.size()) out.push_back(query[end]);
    begin = end + 1;
  }
  return out;
}

}  // namespace

std::string mask_url(std::string_view text) {
  const auto sep = text.find("://");
  const size_t start = sep == std::string_view::npos ? 0 : sep + 3;
  const auto auth_end = text.find_first_of("/?#", start);
  const std::string_view authority =
      text.substr(start, auth_end == std::string_view::npos ? std::string_view::npos
                                                            : auth_end - start);
  const auto at = authority.rfind('@');
  std::string out(text.substr(0, start));
  if (at == std::string_view::npos) {
    out += authority;
  } else {
    out += "***@";
    out += authority.substr(at + 1);
  }
  if (auth_end == std::string_view::npos) return out;
  const std::string_view rest = text.substr(auth_end);
  const auto query = rest.find_first_of("?#");
  out += rest.substr(0, query);
  if (query != std::string_view::npos) {
    out.push_back(rest[query]);
    out += mask_query(rest.substr(query + 1));
  }
  return out;
}

std::string append_query(std::string_view url_or_target, std::string_view query) {
  std::string out(url_or_target);
  if (query.empty()) return out;
  out.push_back(out.find('?') == std::string::npos ? '?' : '&');
  out += query;
  return out;
}

}  // namespace folderhook::delivery
