// The [[folder]] part of the rules file's parser (config_parser.h): each folder's table with its
// [[folder.behavior]] tables, then the checks of the folders against each other and [agent].
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

#include "agent/config_parser.h"
#include "agent/duration.h"
#include "delivery/sink_set.h"
#include "delivery/url.h"

namespace folderhook::agent::detail {

void Parser::parse_folder(const toml::table& t, Config& config) {
  check_keys(t, "[[folder]]", kFolderKeys);
  FolderRule rule;
  rule.line = static_cast<int>(t.source().begin.line);
  rule.column = static_cast<int>(t.source().begin.column);
  rule.temp_patterns = default_temp_patterns();
  for (int a = 0; a <= static_cast<int>(watch::Action::kCopy); ++a) {
    rule.actions.insert(static_cast<watch::Action>(a));
  }

  if (auto v = string(t, "path", "folder")) {
    if (v->empty())
      error(t.get("path"), "folder.path must not be empty");
    else
      rule.path = normalise(*v, base_dir_);
  } else if (!t.get("path")) {
    error(&t, "[[folder]] needs a path");
  }

  parse_urls(t, "folder", "[[folder]]", rule);
  // "" is the default (none); for HTTP URLs they are not used.
  for (const char* key : {"nats_token", "nats_creds"}) {
    auto v = string(t, key, "folder");
    if (!v || v->empty()) continue;
    if (std::string_view(key) == "nats_creds") {
      const std::string path = normalise(*v, base_dir_);
      if (!std::ifstream(path).good()) {
        error(t.get(key), "folder.nats_creds: cannot read '" + path + "'");
        continue;
      }
      rule.nats_settings.emplace_back(key, path);
    } else {
      rule.nats_settings.emplace_back(key, *v);
    }
  }

  if (auto v = string(t, "interface", "folder")) {
    if (std::find(std::begin(kInterfaces), std::end(kInterfaces), *v) == std::end(kInterfaces)) {
      error(t.get("interface"),
            "folder.interface must be one of web, ftp, robot, jsapi, "
            "restapi, sftp, dav (got '" +
                *v + "')");
    } else {
      rule.interface = *v;
    }
  }
  if (auto v = string(t, "username", "folder")) rule.username = *v;

  if (t.get("actions")) {
    rule.actions.clear();
    for (const std::string& name : string_list(t, "actions", "folder")) {
      if (auto action = watch::parse_action(name))
        rule.actions.insert(*action);
      else
        error(t.get("actions"), "folder.actions: unknown action '" + name +
                                    "' (create, read, update, destroy, move, copy)");
    }
  }
  rule.include = string_list(t, "include", "folder");
  rule.exclude = string_list(t, "exclude", "folder");
  if (t.get("temp_patterns")) rule.temp_patterns = string_list(t, "temp_patterns", "folder");
  for (const auto* globs : {&rule.include, &rule.exclude, &rule.temp_patterns}) {
    for (const std::string& glob : *globs) {
      if (std::count(glob.begin(), glob.end(), '[') > std::count(glob.begin(), glob.end(), ']')) {
        error(t.get(globs == &rule.include   ? "include"
                    : globs == &rule.exclude ? "exclude"
                                             : "temp_patterns"),
              "glob '" + glob + "' has a '[' that is never closed");
      }
    }
  }

  parse_filters(t, rule);

  parse_method(t, "folder", rule);
  parse_headers(t, "folder", rule);
  parse_secret(t, "folder", rule);

  if (auto v = string(t, "file_field", "folder"); v && !v->empty()) {
    if (rule.method != "POST")
      error(t.get("file_field"), "folder.file_field needs method = \"POST\"");
    else if (v->find_first_of("\"\r\n") != std::string::npos) {
      error(t.get("file_field"), "folder.file_field must not contain quotes or line breaks");
    } else {
      rule.file_field = *v;
    }
  }
  if (auto size = size_key(t, "max_file_bytes")) rule.max_file_bytes = *size;
  parse_body_template(t, rule);

  parse_pacing(t, rule);

  each_table(t, "behavior", "folder.behavior",
             [&](const toml::table& behavior) { parse_behavior(behavior, rule); });
  each_table(t, "expect", "folder.expect",
             [&](const toml::table& expect) { parse_expect(expect, rule); });

  for (const FolderRule& other : config.folders) {
    if (!rule.path.empty() && other.path == rule.path) {
      error(&t, "folder '" + rule.path + "' is listed twice (first at line " +
                    std::to_string(other.line) + "); give it one [[folder]] with all its urls");
    }
  }
  config.folders.push_back(std::move(rule));
}

// users, interfaces, types, min_size, max_size: what a folder's receivers get, beside actions,
// include and exclude.
void Parser::parse_filters(const toml::table& t, FolderRule& rule) {
  rule.users = string_list(t, "users", "folder");
  rule.interfaces = string_list(t, "interfaces", "folder");
  for (const std::string& name : rule.interfaces) {
    if (std::find(std::begin(kInterfaces), std::end(kInterfaces), name) == std::end(kInterfaces)) {
      error(t.get("interfaces"), "folder.interfaces: unknown interface '" + name +
                                     "' (web, ftp, robot, jsapi, restapi, sftp, dav)");
    }
  }
  parse_permissions(t, rule);
  for (const std::string& name : string_list(t, "types", "folder")) {
    if (name == "file")
      rule.types.insert(watch::ObjectType::kFile);
    else if (name == "directory")
      rule.types.insert(watch::ObjectType::kDirectory);
    else if (name == "permission" && rule.permissions)
      rule.types_permission = true;
    else if (name == "permission")
      error(t.get("types"), "folder.types: 'permission' needs permissions = true in this folder");
    else
      error(t.get("types"),
            "folder.types: unknown type '" + name + "' (file, directory, permission)");
  }
  if (auto size = size_key(t, "min_size")) rule.min_size = *size;
  rule.max_size = size_key(t, "max_size");
  if (rule.max_size && rule.min_size > *rule.max_size) {
    error(t.get("max_size"), "folder.max_size is below folder.min_size: no file would be reported");
  }
}

// permissions = true | false: report changes of mode, owner, group and ACL.
void Parser::parse_permissions(const toml::table& t, FolderRule& rule) {
  const toml::node* node = t.get("permissions");
  if (node == nullptr) return;
  if (const auto* flag = node->as_boolean())
    rule.permissions = flag->get();
  else
    error(node, "folder.permissions must be true or false");
}

// A size key of [[folder]] ("10MiB", "512", ...); nullopt when unset or not a size (an error).
std::optional<uint64_t> Parser::size_key(const toml::table& t, std::string_view key) {
  const auto v = string(t, key, "folder");
  if (!v) return std::nullopt;
  if (auto size = parse_size(*v)) return size;
  error(t.get(key), "folder." + std::string(key) +
                        " must be a size such as \"10MiB\" (B, KiB, MiB, GiB, KB, MB, GB)");
  return std::nullopt;
}

// max_per_second (a number: fractions allowed), batch_max (a whole number) and batch_wait (a
// duration). A batch is one HTTP POST of a JSON array: GET, a file's content (file_field) and
// URLs of other kinds (a NATS message is one operation) cannot take one.
void Parser::parse_pacing(const toml::table& t, FolderRule& rule) {
  if (const toml::node* node = t.get("max_per_second")) {
    const auto rate = node->value<double>();  // an integer or a float
    if (!rate || node->is_boolean() || !(*rate >= 0) || *rate > delivery::kMaxRate) {
      error(node, "folder.max_per_second must be a number from 0 (no limit) to 1000000, such as "
                  "50 or 0.5 (one every 2 s)");
    } else {
      rule.pacing.max_per_second = *rate;
    }
  }
  const toml::node* max_node = t.get("batch_max");
  if (max_node) {
    const auto* n = max_node->as_integer();
    if (!n || n->get() < 1 || n->get() > static_cast<int64_t>(delivery::kMaxBatch)) {
      error(max_node, "folder.batch_max must be a whole number from 1 (no batching) to 1000");
    } else {
      rule.pacing.batch_max = static_cast<size_t>(n->get());
    }
  }
  if (const toml::node* node = t.get("batch_wait")) {
    if (auto d = duration(*node, "folder.batch_wait")) {
      if (d->count() < 1 || *d > std::chrono::hours(1)) {
        error(node, "folder.batch_wait must be from 1ms to 1h");
      } else {  // without batch_max above 1 it has nothing to wait for
        rule.pacing.batch_wait = *d;
      }
    }
  }
  if (rule.pacing.batch_max <= 1) return;
  if (rule.method != "POST") {
    error(max_node, "folder.batch_max needs method = \"POST\": a batch is one JSON array body");
  } else if (!rule.file_field.empty()) {
    error(max_node, "folder.batch_max cannot go with file_field: a batch carries no file content");
  } else if (!rule.body_template.empty()) {
    error(max_node, "folder.batch_max cannot go with body_template: a batch is a JSON array of "
                    "the operations' usual objects");
  }
  for (const std::string& url : rule.urls) {
    std::string scheme = url.substr(0, url.find("://"));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme != "http" && scheme != "https") {
      error(max_node, "folder.batch_max: '" + delivery::mask_url(url) +
                          "' is not an http(s) URL; only an HTTP POST can carry a batch "
                          "(a NATS message is one operation)");
    }
  }
}

void Parser::parse_behavior(const toml::table& t, FolderRule& rule) {
  check_keys(t, "[[folder.behavior]]", kBehaviorKeys);
  Behavior b;
  b.line = static_cast<int>(t.source().begin.line);
  b.column = static_cast<int>(t.source().begin.column);
  if (auto v = string(t, "kind", "folder.behavior")) {
    if (*v == "retention" || *v == "move_after")
      b.kind = *v;
    else
      error(t.get("kind"),
            "folder.behavior.kind must be \"retention\" or \"move_after\" (got '" + *v + "')");
  } else if (!t.get("kind")) {
    error(&t, "[[folder.behavior]] needs a kind: \"retention\" or \"move_after\"");
  }
  if (const toml::node* node = t.get("after")) {
    if (auto d = duration(*node, "folder.behavior.after")) b.after = *d;
  } else {
    error(&t,
          "[[folder.behavior]] needs after, the age (by modification time) that triggers it, "
          "such as \"3d\"");
  }
  b.include = string_list(t, "include", "folder.behavior");
  if (const toml::node* node = t.get("remove_empty_dirs")) {
    if (const auto* flag = node->as_boolean())
      b.remove_empty_dirs = flag->get();
    else
      error(node, "folder.behavior.remove_empty_dirs must be true or false");
  }
  if (auto v = string(t, "to", "folder.behavior")) {
    if (b.kind != "move_after")
      error(t.get("to"), "folder.behavior.to is only for kind = \"move_after\"");
    else if (v->empty())
      error(t.get("to"), "folder.behavior.to must not be empty");
    else
      b.to = normalise(*v, base_dir_);
  } else if (b.kind == "move_after" && !t.get("to")) {
    error(&t, "[[folder.behavior]] of kind move_after needs to, the folder to move files into");
  }
  rule.behaviors.push_back(std::move(b));
}

void Parser::check_folders(const Config& config) {
  for (const FolderRule& rule : config.folders) {
    for (const Behavior& b : rule.behaviors) {
      if (b.to.empty()) continue;
      const bool watched =
          std::any_of(config.folders.begin(), config.folders.end(), [&](const FolderRule& f) {
            return !f.path.empty() && (b.to == f.path || b.to.rfind(f.path + "/", 0) == 0);
          });
      if (!watched) {
        errors_.push_back({file_, b.line, b.column,
                           "folder.behavior.to '" + b.to +
                               "' is outside every watched folder; "
                               "moves there would be reported as destroy"});
      } else if (b.to == rule.path) {
        errors_.push_back(
            {file_, b.line, b.column, "folder.behavior.to must not be the folder itself"});
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
    } else if (!rule.path.empty() && state.rfind(rule.path + "/", 0) == 0) {
      // The folder's users could rename the state_dir away and put their own in its place, and
      // the folder's behaviors would act on the agent's files.
      errors_.push_back({file_, config.state_dir_line ? config.state_dir_line : rule.line,
                         config.state_dir_line ? config.state_dir_column : rule.column,
                         "agent.state_dir '" + state + "' lies inside the watched folder '" +
                             rule.path +
                             "', whose users could rename or replace it; put it outside every "
                             "watched folder"});
    }
  }
}

}  // namespace folderhook::agent::detail
