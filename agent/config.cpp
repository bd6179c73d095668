#include "agent/config.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <sstream>

#include <toml++/toml.h>

#include "agent/config_parser.h"
#include "agent/duration.h"
#include "delivery/retry.h"

namespace folderhook::agent {
namespace {

namespace fs = std::filesystem;

// Levenshtein distance, for "did you mean" on unknown keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "exec:/path" in any case: a URL of its own in a comma-separated list, never a NATS server.
bool starts_exec_url(std::string_view piece) {
  constexpr std::string_view kScheme = "exec:";
  if (piece.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(piece[i])) != kScheme[i]) return false;
  }
  return true;
}

}  // namespace

namespace detail {

std::string normalise(const std::string& path, const std::string& base_dir) {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

void Parser::error(const toml::node* node, std::string message) {
  ConfigError e{file_, 0, 0, std::move(message)};
  if (node) {
    e.line = static_cast<int>(node->source().begin.line);
    e.column = static_cast<int>(node->source().begin.column);
  }
  errors_.push_back(std::move(e));
}

// Reports keys of `table` that are not in `known`, with a suggestion when one is close.
void Parser::check_keys(const toml::table& table, std::string_view where,
                        std::span<const std::string_view> known) {
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string message = "unknown key '" + std::string(name) + "' in " + std::string(where);
    std::string_view best;
    size_t best_distance = 3;
    for (std::string_view candidate : known) {
      const size_t d = edit_distance(name, candidate);
      if (d < best_distance) best_distance = d, best = candidate;
    }
    if (!best.empty()) message += "; did you mean '" + std::string(best) + "'?";
    ConfigError e{file_, static_cast<int>(key.source().begin.line),
                  static_cast<int>(key.source().begin.column), message};
    if (e.line == 0) {
      e.line = static_cast<int>(node.source().begin.line);
      e.column = static_cast<int>(node.source().begin.column);
    }
    errors_.push_back(std::move(e));
  }
}

// TOML can say "\u0000", but the system calls that take a path or a name end it there: the agent
// would use another path than the one written.
bool Parser::holds_nul(const toml::node& node, const std::string& name) {
  const auto* s = node.as_string();
  if (!s || s->get().find('\0') == std::string::npos) return false;
  error(&node, name + " must not contain a NUL byte (\\u0000)");
  return true;
}

std::optional<std::string> Parser::string(const toml::table& table, std::string_view key,
                                          std::string_view where) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (const auto* s = node->as_string()) {
    if (!holds_nul(*node, std::string(where) + "." + std::string(key))) return s->get();
    return std::nullopt;
  }
  error(node, std::string(where) + "." + std::string(key) + " must be a string");
  return std::nullopt;
}

std::vector<std::string> Parser::string_list(const toml::table& table, std::string_view key,
                                             std::string_view where, bool comma_string_too) {
  std::vector<std::string> out;
  const toml::node* node = table.get(key);
  if (!node) return out;
  const std::string name = std::string(where) + "." + std::string(key);
  if (const auto* s = node->as_string(); s && comma_string_too) {
    std::stringstream in(s->get());
    for (std::string item; std::getline(in, item, ',');) {
      const auto first = item.find_first_not_of(" \t");
      const auto last = item.find_last_not_of(" \t");
      if (first == std::string::npos) continue;
      std::string piece = item.substr(first, last - first + 1);
      // "nats://a:4222,b:4222/s": a piece with no scheme continues a NATS URL's server list.
      if (!out.empty() && piece.find("://") == std::string::npos && !starts_exec_url(piece) &&
          (out.back().starts_with("nats://") || out.back().starts_with("tls://"))) {
        out.back() += "," + piece;
      } else {
        out.push_back(std::move(piece));
      }
    }
    return out;
  }
  const auto* array = node->as_array();
  if (!array) {
    error(node, name + " must be a list of strings");
    return out;
  }
  for (const auto& item : *array) {
    if (const auto* s = item.as_string()) {
      if (!holds_nul(item, name)) out.push_back(s->get());
    } else {
      error(&item, name + " must hold only strings");
    }
  }
  return out;
}

std::optional<std::chrono::milliseconds> Parser::duration(const toml::node& node,
                                                          std::string name) {
  const auto* s = node.as_string();
  std::string why;
  auto parsed = s ? delivery::parse_duration(s->get(), why) : std::nullopt;
  if (!parsed) {
    error(&node, name + " must be a duration such as \"500ms\", \"10s\", \"5m\", \"2h\" or \"3d\"");
  }
  return parsed;
}

void Parser::each_table(const toml::table& table, std::string_view key, std::string_view name,
                        const std::function<void(const toml::table&)>& parse_one) {
  const toml::node* node = table.get(key);
  if (!node) return;
  const auto* list = node->as_array();
  if (!list || !list->is_array_of_tables()) {
    error(node, std::string(name) + " must be written as [[" + std::string(name) + "]] tables");
  } else {
    for (const auto& item : *list) parse_one(*item.as_table());
  }
}

void Parser::parse_agent(const toml::table& t, Config& config) {
  check_keys(t, "[agent]", kAgentKeys);
  if (const toml::node* node = t.get("behavior_interval")) {
    if (auto d = duration(*node, "agent.behavior_interval")) {
      if (d->count() < 100) error(node, "agent.behavior_interval must be at least 100ms");
      else config.behavior_interval = *d;
    }
  }
  if (auto v = string(t, "robot_username", "agent")) {
    if (v->empty()) error(t.get("robot_username"), "agent.robot_username must not be empty");
    else config.robot_username = *v;
  }
  if (auto v = string(t, "backend", "agent")) {
    if (*v == "auto" || *v == "fanotify" || *v == "inotify") config.backend = *v;
    else error(t.get("backend"), "agent.backend must be \"auto\", \"fanotify\" or \"inotify\" "
                                 "(got '" + *v + "')");
  }
  if (auto v = string(t, "state_dir", "agent")) {
    if (v->empty()) error(t.get("state_dir"), "agent.state_dir must not be empty");
    else config.state_dir = normalise(*v, base_dir_);
    config.state_dir_line = static_cast<int>(t.get("state_dir")->source().begin.line);
    config.state_dir_column = static_cast<int>(t.get("state_dir")->source().begin.column);
  }
  if (auto v = string(t, "log_file", "agent"); v && !v->empty()) {
    config.log_file = normalise(*v, base_dir_);
  }
  if (auto v = string(t, "log_format", "agent")) {
    if (*v == "json" || *v == "text") config.log_format = *v;
    else error(t.get("log_format"), "agent.log_format must be \"json\" or \"text\"");
  }
  if (auto v = string(t, "initial_scan", "agent")) {
    if (*v == "build" || *v == "report") config.initial_scan_report = *v == "report";
    else error(t.get("initial_scan"), "agent.initial_scan must be \"build\" or \"report\"");
  }
  if (auto v = string(t, "root", "agent"); v && !v->empty()) {
    if (v->front() != '/') error(t.get("root"), "agent.root must be an absolute path");
    else config.root = normalise(*v, base_dir_);
  }
  if (auto v = string(t, "status_listen", "agent")) {
    const auto colon = v->rfind(':');
    int port = 0;
    const bool ok = v->empty() ||
                    (colon != std::string::npos && colon > 0 &&
                     std::from_chars(v->data() + colon + 1, v->data() + v->size(), port).ec ==
                         std::errc{} &&
                     port >= 0 && port < 65536);
    if (ok) config.status_listen = *v;
    else error(t.get("status_listen"), "agent.status_listen must be HOST:PORT (PORT 0 = any free "
                                       "port; \"\" disables it), such as \"127.0.0.1:9780\"");
  }
}

void Parser::parse_delivery(const toml::table& t, Config& config) {
  check_keys(t, "[delivery]", kDeliveryKeys);
  if (const toml::node* node = t.get("pipelining")) {
    if (const auto* b = node->as_boolean()) config.delivery.pipelining = b->get();
    else error(node, "delivery.pipelining must be true or false");
  }
  if (auto v = string(t, "ca_file", "delivery")) {
    if (v->empty()) error(t.get("ca_file"), "delivery.ca_file must not be empty");
    else config.delivery.ca_file = normalise(*v, base_dir_);
  }
  if (const toml::node* node = t.get("connections")) {
    const auto* n = node->as_integer();
    if (!n || n->get() < 1 || n->get() > 64) {
      error(node, "delivery.connections must be a whole number from 1 to 64");
    } else {
      config.delivery.connections = static_cast<int>(n->get());
    }
  }
  if (const toml::node* node = t.get("in_memory")) {
    const auto* n = node->as_integer();
    if (!n || n->get() < 100 || n->get() > 10'000'000) {
      error(node, "delivery.in_memory must be a whole number from 100 to 10000000");
    } else {
      config.delivery.in_memory = static_cast<size_t>(n->get());
    }
  }
  if (const toml::node* node = t.get("timeout")) {
    if (auto d = duration(*node, "delivery.timeout")) {
      if (d->count() == 0) error(node, "delivery.timeout must be more than 0");
      else config.delivery.timeout = *d;
    }
  }
  if (const toml::node* node = t.get("retry")) {
    config.delivery.retry.clear();
    if (const auto* array = node->as_array()) {
      for (const auto& item : *array) {
        if (auto d = duration(item, "delivery.retry")) config.delivery.retry.push_back(*d);
      }
      // An empty schedule is not "never retry": the dispatcher would take its default one.
      if (array->empty()) {
        error(node, "delivery.retry must list at least one duration, such as [\"1m\", \"5m\"]");
      }
    } else {
      error(node, "delivery.retry must be a list of durations, such as [\"1m\", \"5m\"]");
    }
  }
  if (auto v = string(t, "success", "delivery")) {
    if (*v == "200") config.delivery.exactly_200 = true;
    else if (*v != "2xx") error(t.get("success"), "delivery.success must be \"2xx\" or \"200\"");
  }
}

void Parser::parse_notify(const toml::table& t, Config& config) {
  check_keys(t, "[notify]", kNotifyKeys);
  if (auto v = string(t, "smtp_url", "notify")) config.notify.smtp_url = *v;
  if (auto v = string(t, "from", "notify")) config.notify.from = *v;
  config.notify.to = string_list(t, "to", "notify");
  if (!config.notify.smtp_url.empty()) {
    const std::string& url = config.notify.smtp_url;
    if (url.rfind("smtp://", 0) != 0 && url.rfind("smtps://", 0) != 0) {
      error(t.get("smtp_url"), "notify.smtp_url must start with smtp:// or smtps://");
    }
    if (config.notify.to.empty()) {
      error(t.get("smtp_url"), "notify.to must list at least one address when smtp_url is set");
    }
  }
}

// [interfaces]: each key an interface, each value the process names that mean it. A listed
// interface replaces its default list; the others keep theirs.
void Parser::parse_interfaces(const toml::table& t, Config& config) {
  check_keys(t, "[interfaces]", kInterfaces);
  for (const auto& [key, node] : t) {
    const std::string name(key.str());
    if (std::find(std::begin(kInterfaces), std::end(kInterfaces), name) == std::end(kInterfaces)) {
      continue;  // reported by check_keys
    }
    std::vector<std::string> names = string_list(t, name, "interfaces");
    auto it = std::find_if(config.interfaces.begin(), config.interfaces.end(),
                           [&](const auto& entry) { return entry.first == name; });
    if (it != config.interfaces.end()) it->second = std::move(names);
    else config.interfaces.emplace_back(name, std::move(names));
  }
}

std::optional<Config> Parser::parse(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text, file_);
  } catch (const toml::parse_error& e) {
    errors_.push_back({file_, static_cast<int>(e.source().begin.line),
                       static_cast<int>(e.source().begin.column),
                       std::string(e.description())});
    return std::nullopt;
  }

  Config config;
  config.file = file_;
  config.state_dir = "/var/lib/folderhook";
  config.interfaces = default_interfaces();
  if (extra_tables_.empty()) {
    check_keys(root, "the rules file", kTopKeys);
  } else {
    std::vector<std::string_view> top(std::begin(kTopKeys), std::end(kTopKeys));
    top.insert(top.end(), extra_tables_.begin(), extra_tables_.end());
    check_keys(root, "the rules file", top);
  }

  auto section = [&](std::string_view name, auto&& parse_one) {
    const toml::node* node = root.get(name);
    if (!node) return;
    if (const auto* table = node->as_table()) parse_one(*table);
    else error(node, "[" + std::string(name) + "] must be a table");
  };
  section("agent", [&](const toml::table& t) { parse_agent(t, config); });
  section("delivery", [&](const toml::table& t) { parse_delivery(t, config); });
  section("notify", [&](const toml::table& t) { parse_notify(t, config); });
  section("interfaces", [&](const toml::table& t) { parse_interfaces(t, config); });

  each_table(root, "folder", "folder", [&](const toml::table& t) { parse_folder(t, config); });
  section("accounts", [&](const toml::table& t) { parse_accounts(t, config); });
  check_folders(config);
  if (!errors_.empty()) return std::nullopt;
  return config;
}

}  // namespace detail

std::string ConfigError::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::vector<KnownKeys> known_keys() {
  const auto list = [](std::span<const std::string_view> keys) {
    return std::vector<std::string_view>(keys.begin(), keys.end());
  };
  return {{"", list(detail::kTopKeys)},
          {"agent", list(detail::kAgentKeys)},
          {"delivery", list(detail::kDeliveryKeys)},
          {"notify", list(detail::kNotifyKeys)},
          {"interfaces", list(detail::kInterfaces)},
          {"folder", list(detail::kFolderKeys)},
          {"folder.behavior", list(detail::kBehaviorKeys)},
          {"accounts", list(detail::kAccountsKeys)},
          {"folder.expect", list(detail::kExpectKeys)}};
}

std::vector<std::string> default_temp_patterns() {
  return {"*.part", "*.filepart", "*.tmp", ".*.??????"};
}

std::vector<std::pair<std::string, std::vector<std::string>>> default_interfaces() {
  // Process names as the kernel reports them (comm, or the executable's name). sshd's
  // internal-sftp runs inside an sshd session process: add "sshd" (or "sshd-session") to sftp
  // only where the server allows no shell logins, or every login's commands would count.
  return {{"sftp", {"sftp-server", "internal-sftp"}},
          {"ftp", {"vsftpd", "proftpd", "pure-ftpd"}},
          {"dav", {"webdav", "webdavd", "davserver"}},
          {"web", {"nginx", "apache2", "httpd", "lighttpd"}}};
}

std::optional<Config> parse_config(std::string_view text, const std::string& file,
                                   const std::string& base_dir,
                                   std::vector<ConfigError>& errors) {
  return detail::Parser(file, base_dir, errors).parse(text);
}

std::optional<Config> load_config(const std::string& file, std::vector<ConfigError>& errors) {
  return load_config(file, errors, {});
}

std::optional<Config> load_config(const std::string& file, std::vector<ConfigError>& errors,
                                  const std::vector<std::string>& extra_tables) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    errors.push_back({file, 0, 0, "is a directory, not a rules file"});
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    errors.push_back({file, 0, 0, std::string("cannot read the rules file: ") +
                                      std::strerror(errno)});
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string cwd = fs::current_path(ec).string();
  detail::Parser parser(file, cwd, errors);
  parser.allow_tables(extra_tables);
  return parser.parse(text.str());
}

}  // namespace folderhook::agent
