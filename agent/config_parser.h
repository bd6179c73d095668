// The rules file's parser, internal to agent/: included only by the config .cpp files, which hold
// its parts. config.cpp: the helpers every table uses, [agent], [delivery], [notify],
// [interfaces] and the whole file (parse()); config_folder.cpp: [[folder]], [[folder.behavior]]
// and the checks of the folders against each other and [agent]; config_accounts.cpp: [accounts];
// config_expect.cpp: [[folder.expect]].
//
// A Parser serves one parse_config() call, on one thread. It holds references to the file name,
// the base directory and the error list it is given, which must outlive it. Every problem is
// appended to that list, with its place in the file where it has one; nothing throws out of
// parse() (toml++'s parse_error is caught there).
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"

namespace folderhook::agent::detail {

inline constexpr std::string_view kInterfaces[] = {"web",     "ftp",  "robot", "jsapi",
                                                   "restapi", "sftp", "dav"};

// The keys each table accepts: what check_keys() matches against, and what known_keys() tells
// the docs' tests. A new key goes here, in etc/rules.toml and in the README's table.
inline constexpr std::string_view kTopKeys[] = {"agent", "delivery", "notify", "interfaces",
                                                "folder", "accounts"};
inline constexpr std::string_view kAgentKeys[] = {
    "state_dir",         "log_file",       "log_format", "root",        "status_listen",
    "behavior_interval", "robot_username", "backend",    "initial_scan"};
inline constexpr std::string_view kDeliveryKeys[] = {
    "timeout", "retry", "success", "connections", "pipelining", "ca_file", "in_memory"};
inline constexpr std::string_view kNotifyKeys[] = {"smtp_url", "from", "to"};
inline constexpr std::string_view kFolderKeys[] = {
    "path",          "urls",   "interface", "username", "actions",    "include",        "exclude",
    "temp_patterns", "method", "headers",   "secret",   "file_field", "max_file_bytes", "behavior",
    "users",         "interfaces", "types",   "min_size", "max_size",   "nats_token",     "nats_creds",
    "body_template", "content_type", "max_per_second", "batch_max", "batch_wait",
    "permissions",   "expect"};
inline constexpr std::string_view kAccountsKeys[] = {"urls", "method", "headers", "secret"};
inline constexpr std::string_view kBehaviorKeys[] = {"kind", "after", "include",
                                                     "remove_empty_dirs", "to"};
inline constexpr std::string_view kExpectKeys[] = {"name",     "include",   "by",
                                                   "days",     "timezone", "alert_urls"};

// `path` made absolute against `base_dir` when relative, lexically normal, with no trailing '/'.
std::string normalise(const std::string& path, const std::string& base_dir);

class Parser {
 public:
  Parser(const std::string& file, const std::string& base_dir, std::vector<ConfigError>& errors)
      : file_(file), base_dir_(base_dir), errors_(errors) {}
  // Top-level tables accepted beside kTopKeys and left unread (another program's, load_config).
  void allow_tables(const std::vector<std::string>& tables) { extra_tables_ = tables; }

  // The whole rules file: the Config, or nullopt when the error list holds anything.
  std::optional<Config> parse(std::string_view text);

 private:
  // config.cpp. A value of the wrong type is reported and read as absent (or an empty list).
  void error(const toml::node* node, std::string message);
  // Reports a string `node` (named `name`) that holds a NUL byte; true if it does.
  bool holds_nul(const toml::node& node, const std::string& name);
  void check_keys(const toml::table& table, std::string_view where,
                  std::span<const std::string_view> known);
  std::optional<std::string> string(const toml::table& table, std::string_view key,
                                    std::string_view where);
  std::vector<std::string> string_list(const toml::table& table, std::string_view key,
                                       std::string_view where, bool comma_string_too = false);
  std::optional<std::chrono::milliseconds> duration(const toml::node& node, std::string name);
  // Calls `parse_one` on each table of the [[name]] array at `key`; anything else there is an
  // error.
  void each_table(const toml::table& table, std::string_view key, std::string_view name,
                  const std::function<void(const toml::table&)>& parse_one);
  void parse_agent(const toml::table& t, Config& config);
  void parse_delivery(const toml::table& t, Config& config);
  void parse_notify(const toml::table& t, Config& config);
  void parse_interfaces(const toml::table& t, Config& config);

  // config_folder.cpp.
  void parse_folder(const toml::table& t, Config& config);
  void parse_behavior(const toml::table& t, FolderRule& rule);
  // config_expect.cpp: [[folder.expect]].
  void parse_expect(const toml::table& t, FolderRule& rule);
  void parse_filters(const toml::table& t, FolderRule& rule);
  void parse_permissions(const toml::table& t, FolderRule& rule);
  std::optional<uint64_t> size_key(const toml::table& t, std::string_view key);
  // config_body_template.cpp: body_template and content_type, after method and file_field.
  void parse_body_template(const toml::table& t, FolderRule& rule);
  // max_per_second, batch_max, batch_wait (after method, urls and file_field are read).
  void parse_pacing(const toml::table& t, FolderRule& rule);
  // config_accounts.cpp: [accounts]; the method, headers and secret of a folder or [accounts]
  // (`where` names the table in messages: "folder" or "accounts").
  void parse_accounts(const toml::table& t, Config& config);
  // `table` names the table in the message that urls are missing: "[[folder]]", "[accounts]".
  void parse_urls(const toml::table& t, std::string_view where, std::string_view table,
                  FolderRule& rule);
  void parse_method(const toml::table& t, std::string_view where, FolderRule& rule);
  void parse_headers(const toml::table& t, std::string_view where, FolderRule& rule);
  void parse_secret(const toml::table& t, std::string_view where, FolderRule& rule);
  // After every table is read: the folders against each other, agent.root and agent.state_dir.
  void check_folders(const Config& config);

  const std::string& file_;
  const std::string& base_dir_;
  std::vector<ConfigError>& errors_;
  std::vector<std::string> extra_tables_;
};

}  // namespace folderhook::agent::detail
