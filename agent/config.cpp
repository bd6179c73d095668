#include "agent/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>

#include <toml++/toml.h>

#include "agent/duration.h"
#include "delivery/signature.h"
#include "delivery/url.h"

namespace folderhook::agent {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kInterfaces[] = {"web", "ftp", "robot", "jsapi", "restapi", "sftp", "dav"};

// The keys each table accepts: what check_keys() matches against, and what known_keys() tells
// the docs' tests. A new key goes here, in etc/rules.toml and in the README's table.
constexpr std::string_view kTopKeys[] = {"agent", "delivery", "notify", "interfaces", "folder"};
constexpr std::string_view kAgentKeys[] = {"state_dir",      "log_file",      "log_format",
                                           "root",           "status_listen", "behavior_interval",
                                           "robot_username", "backend",       "initial_scan"};
constexpr std::string_view kDeliveryKeys[] = {"timeout",     "retry",      "success",
                                              "connections", "pipelining", "ca_file",
                                              "in_memory"};
constexpr std::string_view kNotifyKeys[] = {"smtp_url", "from", "to"};
constexpr std::string_view kFolderKeys[] = {
    "path",          "urls",   "interface", "username", "actions",    "include",        "exclude",
    "temp_patterns", "method", "headers",   "secret",   "file_field", "max_file_bytes", "behavior"};
constexpr std::string_view kBehaviorKeys[] = {"kind", "after", "include", "remove_empty_dirs",
                                              "to"};

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

std::string normalise(const std::string& path, const std::string& base_dir) {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

class Parser {
 public:
  Parser(const std::string& file, const std::string& base_dir, std::vector<ConfigError>& errors)
      : file_(file), base_dir_(base_dir), errors_(errors) {}

  void error(const toml::node* node, std::string message) {
    ConfigError e{file_, 0, 0, std::move(message)};
    if (node) {
      e.line = static_cast<int>(node->source().begin.line);
      e.column = static_cast<int>(node->source().begin.column);
    }
    errors_.push_back(std::move(e));
  }

  // Reports keys of `table` that are not in `known`, with a suggestion when one is close.
  void check_keys(const toml::table& table, std::string_view where,
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

  std::optional<std::string> string(const toml::table& table, std::string_view key,
                                    std::string_view where) {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (const auto* s = node->as_string()) return s->get();
    error(node, std::string(where) + "." + std::string(key) + " must be a string");
    return std::nullopt;
  }

  std::vector<std::string> string_list(const toml::table& table, std::string_view key,
                                       std::string_view where, bool comma_string_too = false) {
    std::vector<std::string> out;
    const toml::node* node = table.get(key);
    if (!node) return out;
    const std::string name = std::string(where) + "." + std::string(key);
    if (const auto* s = node->as_string(); s && comma_string_too) {
      std::stringstream in(s->get());
      for (std::string item; std::getline(in, item, ',');) {
        const auto first = item.find_first_not_of(" \t");
        const auto last = item.find_last_not_of(" \t");
        if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
      }
      return out;
    }
    const auto* array = node->as_array();
    if (!array) {
      error(node, name + " must be a list of strings");
      return out;
    }
    for (const auto& item : *array) {
      if (const auto* s = item.as_string()) out.push_back(s->get());
      else error(&item, name + " must hold only strings");
    }
    return out;
  }

  std::optional<std::chrono::milliseconds> duration(const toml::node& node, std::string name) {
    const auto* s = node.as_string();
    auto parsed = s ? parse_duration(s->get()) : std::nullopt;
    if (!parsed) {
      error(&node, name + " must be a duration such as \"500ms\", \"10s\", \"5m\", \"2h\" or \"3d\"");
    }
    return parsed;
  }

  void parse_agent(const toml::table& t, Config& config) {
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

  void parse_delivery(const toml::table& t, Config& config) {
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
      } else {
        error(node, "delivery.retry must be a list of durations, such as [\"1m\", \"5m\"]");
      }
    }
    if (auto v = string(t, "success", "delivery")) {
      if (*v == "200") config.delivery.exactly_200 = true;
      else if (*v != "2xx") error(t.get("success"), "delivery.success must be \"2xx\" or \"200\"");
    }
  }

  void parse_notify(const toml::table& t, Config& config) {
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
  void parse_interfaces(const toml::table& t, Config& config) {
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

  void parse_folder(const toml::table& t, Config& config) {
    check_keys(t, "[[folder]]", kFolderKeys);
    FolderRule rule;
    rule.line = static_cast<int>(t.source().begin.line);
    rule.column = static_cast<int>(t.source().begin.column);
    rule.temp_patterns = default_temp_patterns();
    for (int a = 0; a <= static_cast<int>(watch::Action::kCopy); ++a) {
      rule.actions.insert(static_cast<watch::Action>(a));
    }

    if (auto v = string(t, "path", "folder")) {
      if (v->empty()) error(t.get("path"), "folder.path must not be empty");
      else rule.path = normalise(*v, base_dir_);
    } else if (!t.get("path")) {
      error(&t, "[[folder]] needs a path");
    }

    rule.urls = string_list(t, "urls", "folder", /*comma_string_too=*/true);
    if (!t.get("urls")) error(&t, "[[folder]] needs urls, a list of at least one URL");
    else if (rule.urls.empty()) error(t.get("urls"), "folder.urls must hold at least one URL");
    for (const std::string& url : rule.urls) {
      std::string why;
      if (!delivery::parse_url(url, why)) {
        error(t.get("urls"), "folder.urls: '" + url + "' is not a usable URL: " + why);
      }
    }

    if (auto v = string(t, "interface", "folder")) {
      if (std::find(std::begin(kInterfaces), std::end(kInterfaces), *v) == std::end(kInterfaces)) {
        error(t.get("interface"), "folder.interface must be one of web, ftp, robot, jsapi, "
                                  "restapi, sftp, dav (got '" + *v + "')");
      } else {
        rule.interface = *v;
      }
    }
    if (auto v = string(t, "username", "folder")) rule.username = *v;

    if (t.get("actions")) {
      rule.actions.clear();
      for (const std::string& name : string_list(t, "actions", "folder")) {
        if (auto action = watch::parse_action(name)) rule.actions.insert(*action);
        else error(t.get("actions"), "folder.actions: unknown action '" + name +
                                         "' (create, read, update, destroy, move, copy)");
      }
    }
    rule.include = string_list(t, "include", "folder");
    rule.exclude = string_list(t, "exclude", "folder");
    if (t.get("temp_patterns")) rule.temp_patterns = string_list(t, "temp_patterns", "folder");
    for (const auto* globs : {&rule.include, &rule.exclude, &rule.temp_patterns}) {
      for (const std::string& glob : *globs) {
        if (std::count(glob.begin(), glob.end(), '[') > std::count(glob.begin(), glob.end(), ']')) {
          error(t.get(globs == &rule.include ? "include"
                      : globs == &rule.exclude ? "exclude" : "temp_patterns"),
                "glob '" + glob + "' has a '[' that is never closed");
        }
      }
    }

    if (auto v = string(t, "method", "folder")) {
      if (*v == "GET" || *v == "POST") rule.method = *v;
      else error(t.get("method"), "folder.method must be \"GET\" or \"POST\" (got '" + *v + "')");
    }
    if (const toml::node* node = t.get("headers")) {
      if (const auto* headers = node->as_table()) {
        for (const auto& [key, value] : *headers) {
          const std::string name(key.str());
          const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c);
          });
          const auto* text = value.as_string();
          if (!token) {
            errors_.push_back({file_, static_cast<int>(key.source().begin.line),
                               static_cast<int>(key.source().begin.column),
                               "folder.headers: '" + name + "' is not a valid header name"});
          }
          else if (!text) error(&value, "folder.headers." + name + " must be a string");
          else if (text->get().find_first_of("\r\n") != std::string::npos) {
            error(&value, "folder.headers." + name + " must not contain a line break");
          } else {
            rule.headers.emplace_back(name, text->get());
          }
        }
      } else {
        error(node, "folder.headers must be a table, such as { Authorization = \"Bearer abc\" }");
      }
    }
    if (auto v = string(t, "secret", "folder"); v && !v->empty()) {
      std::string why;
      if (!delivery::sign_webhook(*v, "id", 0, "", why)) {
        error(t.get("secret"), "folder.secret must be \"whsec_\" followed by base64 (" + why + ")");
      } else {
        rule.secret = *v;
      }
    }

    if (auto v = string(t, "file_field", "folder"); v && !v->empty()) {
      if (rule.method != "POST") error(t.get("file_field"), "folder.file_field needs method = \"POST\"");
      else if (v->find_first_of("\"\r\n") != std::string::npos) {
        error(t.get("file_field"), "folder.file_field must not contain quotes or line breaks");
      } else {
        rule.file_field = *v;
      }
    }
    if (auto v = string(t, "max_file_bytes", "folder")) {
      if (auto size = parse_size(*v)) rule.max_file_bytes = *size;
      else error(t.get("max_file_bytes"), "folder.max_file_bytes must be a size such as \"10MiB\" "
                                          "(B, KiB, MiB, GiB, KB, MB, GB)");
    }

    if (const toml::node* node = t.get("behavior")) {
      const auto* list = node->as_array();
      if (!list || !list->is_array_of_tables()) {
        error(node, "folder.behavior must be written as [[folder.behavior]] tables");
      } else {
        for (const auto& item : *list) parse_behavior(*item.as_table(), rule);
      }
    }

    for (const FolderRule& other : config.folders) {
      if (!rule.path.empty() && other.path == rule.path) {
        error(&t, "folder '" + rule.path + "' is listed twice (first at line " +
                      std::to_string(other.line) + "); give it one [[folder]] with all its urls");
      }
    }
    config.folders.push_back(std::move(rule));
  }

  void parse_behavior(const toml::table& t, FolderRule& rule) {
    check_keys(t, "[[folder.behavior]]", kBehaviorKeys);
    Behavior b;
    b.line = static_cast<int>(t.source().begin.line);
    b.column = static_cast<int>(t.source().begin.column);
    if (auto v = string(t, "kind", "folder.behavior")) {
      if (*v == "retention" || *v == "move_after") b.kind = *v;
      else error(t.get("kind"), "folder.behavior.kind must be \"retention\" or \"move_after\" (got '" +
                                    *v + "')");
    } else if (!t.get("kind")) {
      error(&t, "[[folder.behavior]] needs a kind: \"retention\" or \"move_after\"");
    }
    if (const toml::node* node = t.get("after")) {
      if (auto d = duration(*node, "folder.behavior.after")) b.after = *d;
    } else {
      error(&t, "[[folder.behavior]] needs after, the age (by modification time) that triggers it, "
                "such as \"3d\"");
    }
    b.include = string_list(t, "include", "folder.behavior");
    if (const toml::node* node = t.get("remove_empty_dirs")) {
      if (const auto* flag = node->as_boolean()) b.remove_empty_dirs = flag->get();
      else error(node, "folder.behavior.remove_empty_dirs must be true or false");
    }
    if (auto v = string(t, "to", "folder.behavior")) {
      if (b.kind != "move_after") error(t.get("to"), "folder.behavior.to is only for kind = \"move_after\"");
      else if (v->empty()) error(t.get("to"), "folder.behavior.to must not be empty");
      else b.to = normalise(*v, base_dir_);
    } else if (b.kind == "move_after" && !t.get("to")) {
      error(&t, "[[folder.behavior]] of kind move_after needs to, the folder to move files into");
    }
    rule.behaviors.push_back(std::move(b));
  }

  std::optional<Config> parse(std::string_view text) {
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
    config.delivery.retry = default_retry_schedule();
    config.interfaces = default_interfaces();
    check_keys(root, "the rules file", kTopKeys);

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

    if (const toml::node* node = root.get("folder")) {
      const auto* folders = node->as_array();
      if (!folders || !folders->is_array_of_tables()) {
        error(node, "folder must be written as [[folder]] tables");
      } else {
        for (const auto& item : *folders) parse_folder(*item.as_table(), config);
      }
    }
    for (const FolderRule& rule : config.folders) {
      for (const Behavior& b : rule.behaviors) {
        if (b.to.empty()) continue;
        const bool watched = std::any_of(config.folders.begin(), config.folders.end(),
                                         [&](const FolderRule& f) {
          return !f.path.empty() && (b.to == f.path || b.to.rfind(f.path + "/", 0) == 0);
        });
        if (!watched) {
          errors_.push_back({file_, b.line, b.column,
                             "folder.behavior.to '" + b.to + "' is outside every watched folder; "
                             "moves there would be reported as destroy"});
        } else if (b.to == rule.path) {
          errors_.push_back({file_, b.line, b.column,
                             "folder.behavior.to must not be the folder itself"});
        }
      }
    }
    if (!config.root.empty()) {
      for (const FolderRule& rule : config.folders) {
        const std::string& root = config.root;
        const bool inside = rule.path == root || root == "/" || rule.path.rfind(root + "/", 0) == 0;
        if (!rule.path.empty() && !inside) {
          errors_.push_back({file_, rule.line, rule.column,
                             "folder '" + rule.path + "' is outside agent.root '" + root + "'"});
        }
      }
    }
    if (config.folders.empty() && errors_.empty()) {
      errors_.push_back({file_, 0, 0, "no [[folder]] to watch: add one with a path and urls"});
    }
    for (const FolderRule& rule : config.folders) {
      const std::string& state = config.state_dir;
      if (!rule.path.empty() && (rule.path == state || rule.path.rfind(state + "/", 0) == 0)) {
        errors_.push_back({file_, rule.line, rule.column,
                           "folder '" + rule.path + "' lies inside agent.state_dir '" + state +
                               "'; the agent's own files are never reported"});
      }
    }
    if (!errors_.empty()) return std::nullopt;
    return config;
  }

 private:
  const std::string& file_;
  const std::string& base_dir_;
  std::vector<ConfigError>& errors_;
};

bool parent_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(fs::path(path).parent_path(), ec);
}

}  // namespace

bool holds_secrets(const Config& config) {
  for (const FolderRule& rule : config.folders) {
    if (!rule.secret.empty()) return true;
    for (const auto& [name, value] : rule.headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower == "authorization") return true;
    }
  }
  return false;
}

std::string ConfigError::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::vector<KnownKeys> known_keys() {
  const auto list = [](std::span<const std::string_view> keys) {
    return std::vector<std::string_view>(keys.begin(), keys.end());
  };
  return {{"", list(kTopKeys)},           {"agent", list(kAgentKeys)},
          {"delivery", list(kDeliveryKeys)}, {"notify", list(kNotifyKeys)},
          {"interfaces", list(kInterfaces)}, {"folder", list(kFolderKeys)},
          {"folder.behavior", list(kBehaviorKeys)}};
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

std::vector<std::chrono::milliseconds> default_retry_schedule() {
  using std::chrono::hours;
  using std::chrono::minutes;
  return {minutes(1), minutes(5), minutes(30), hours(2), hours(5),
          hours(10),  hours(14),  hours(20),   hours(20)};
}

std::optional<Config> parse_config(std::string_view text, const std::string& file,
                                   const std::string& base_dir,
                                   std::vector<ConfigError>& errors) {
  return Parser(file, base_dir, errors).parse(text);
}

std::optional<Config> load_config(const std::string& file, std::vector<ConfigError>& errors) {
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
  return parse_config(text.str(), file, cwd, errors);
}

std::vector<std::string> check_environment(const Config& config,
                                           std::vector<ConfigError>& errors) {
  std::vector<std::string> warnings;
  struct stat st {};
  if (holds_secrets(config) && ::stat(config.file.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
    warnings.push_back("the rules file holds a secret or an Authorization header and every user "
                       "can read it; chmod o-r it");
  }
  for (const FolderRule& rule : config.folders) {
    std::error_code ec;
    const auto status = fs::status(rule.path, ec);
    if (fs::is_directory(status)) continue;
    if (fs::exists(status)) {
      errors.push_back({config.file, rule.line, rule.column,
                        "folder path '" + rule.path + "' is not a directory"});
    } else if (parent_exists(rule.path)) {
      warnings.push_back("folder path '" + rule.path +
                         "' does not exist yet; it will be watched when it appears");
    } else {
      errors.push_back({config.file, rule.line, rule.column,
                        "folder path '" + rule.path + "' does not exist"});
    }
  }

  bool https = false;
  for (const FolderRule& rule : config.folders) {
    for (const std::string& url : rule.urls) https = https || url.rfind("https://", 0) == 0;
  }
  if (https && ::access(config.delivery.ca_file.c_str(), R_OK) != 0) {
    errors.push_back({config.file, 0, 0, "delivery.ca_file '" + config.delivery.ca_file +
                                             "' cannot be read (" + std::strerror(errno) +
                                             "); HTTPS receivers could not be verified"});
  }

  // Without creating anything: the state_dir, or the nearest ancestor that exists, must be
  // writable so that `run` can create it.
  fs::path probe(config.state_dir);
  std::error_code ec;
  while (!fs::exists(probe, ec) && probe.has_parent_path() && probe != probe.parent_path()) {
    probe = probe.parent_path();
  }
  if (fs::exists(probe, ec) && !fs::is_directory(probe, ec)) {
    errors.push_back({config.file, 0, 0, "agent.state_dir '" + config.state_dir + "': '" +
                                             probe.string() + "' is not a directory"});
  } else if (::access(probe.c_str(), W_OK | X_OK) != 0) {
    errors.push_back({config.file, 0, 0, "agent.state_dir '" + config.state_dir +
                                             "' is not writable (" + probe.string() + ": " +
                                             std::strerror(errno) + ")"});
  }
  return warnings;
}

}  // namespace folderhook::agent
