// The [accounts] part of the rules file's parser (config_parser.h), and the keys it shares with
// [[folder]]: method, headers and secret.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "agent/config_parser.h"
#include "delivery/signature.h"
#include "delivery/sink_set.h"
#include "delivery/url.h"

namespace folderhook::agent::detail {

// [accounts] becomes an internal rule: the dispatcher delivers its requests as a folder's
// (outbox, retries, signatures, every URL kind); "[accounts]" labels them in the logs.
void Parser::parse_accounts(const toml::table& t, Config& config) {
  check_keys(t, "[accounts]", kAccountsKeys);
  FolderRule rule;
  rule.path = "[accounts]";
  rule.interface = "robot";
  rule.line = static_cast<int>(t.source().begin.line);
  rule.column = static_cast<int>(t.source().begin.column);
  parse_urls(t, "accounts", "[accounts]", rule);
  parse_method(t, "accounts", rule);
  parse_headers(t, "accounts", rule);
  parse_secret(t, "accounts", rule);
  config.accounts = std::move(rule);
}

void Parser::parse_urls(const toml::table& t, std::string_view where, std::string_view table,
                        FolderRule& rule) {
  const std::string name(where);
  rule.urls = string_list(t, "urls", where, /*comma_string_too=*/true);
  if (!t.get("urls"))
    error(&t, std::string(table) + " needs urls, a list of at least one URL");
  else if (rule.urls.empty())
    error(t.get("urls"), name + ".urls must hold at least one URL");
  for (const std::string& url : rule.urls) {
    std::string why;
    if (!delivery::valid_url(url, why)) {
      error(t.get("urls"),
            name + ".urls: '" + delivery::mask_url(url) + "' is not a usable URL: " + why);
    }
  }
}

void Parser::parse_method(const toml::table& t, std::string_view where, FolderRule& rule) {
  const std::string name(where);
  if (auto v = string(t, "method", where)) {
    if (*v == "GET" || *v == "POST")
      rule.method = *v;
    else
      error(t.get("method"), name + ".method must be \"GET\" or \"POST\" (got '" + *v + "')");
  }
}

void Parser::parse_headers(const toml::table& t, std::string_view where, FolderRule& rule) {
  const std::string prefix = std::string(where) + ".headers";
  const toml::node* node = t.get("headers");
  if (!node) return;
  const auto* headers = node->as_table();
  if (!headers) {
    error(node, prefix + " must be a table, such as { Authorization = \"Bearer abc\" }");
    return;
  }
  for (const auto& [key, value] : *headers) {
    const std::string name(key.str());
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c);
    });
    const auto* text = value.as_string();
    if (!token) {
      errors_.push_back({file_, static_cast<int>(key.source().begin.line),
                         static_cast<int>(key.source().begin.column),
                         prefix + ": '" + name + "' is not a valid header name"});
    } else if (!text)
      error(&value, prefix + "." + name + " must be a string");
    else if (text->get().find_first_of("\r\n") != std::string::npos) {
      error(&value, prefix + "." + name + " must not contain a line break");
    } else if (!holds_nul(value, prefix + "." + name)) {
      rule.headers.emplace_back(name, text->get());
    }
  }
}

void Parser::parse_secret(const toml::table& t, std::string_view where, FolderRule& rule) {
  if (auto v = string(t, "secret", where); v && !v->empty()) {
    std::string why;
    if (!delivery::sign_webhook(*v, "id", 0, "", why)) {
      error(t.get("secret"), std::string(where) +
                                 ".secret must be \"whsec_\" followed by base64 (" + why + ")");
    } else {
      rule.secret = *v;
    }
  }
}

}  // namespace folderhook::agent::detail
