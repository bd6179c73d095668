// Config: rules.toml as the agent understands it. Parsing is pure (text in, Config or errors
// out); the checks that need the filesystem live in check_environment().
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "delivery/lane_policy.h"
#include "delivery/retry.h"
#include "watch/file_action.h"

namespace folderhook::agent {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no place in the file
  int column = 0;
  std::string message;
  // "FILE:LINE:COL: message", or "FILE: message" without a place.
  std::string to_string() const;
};

// [[folder.behavior]]: something the agent does to the folder itself (interface=robot).
struct Behavior {
  std::string kind;                  // "retention" | "move_after"
  std::chrono::milliseconds after{0};  // by modification time
  std::vector<std::string> include;  // globs on the path relative to the folder; empty = all
  bool remove_empty_dirs = false;
  std::string to;                    // move_after: absolute destination folder
  int line = 0;
  int column = 0;
};

// [[folder.expect]]: files that must arrive in the folder by a time of day (agent/expect_*.h).
struct Expectation {
  std::string name;                   // `name`, or "<include> by <by>": the alert's "expectation"
  std::vector<std::string> include;   // globs on the path relative to the folder; empty = all
  std::string by;                     // as written: "HH:MM" or "HH:MM:SS"
  int32_t time_of_day = 0;            // `by` in seconds after local midnight
  uint8_t days = 0x7f;                // bit 0 = Monday ... bit 6 = Sunday
  std::string timezone = "UTC";       // a name under /usr/share/zoneinfo
  std::vector<std::string> alert_urls;
  int line = 0;
  int column = 0;
};

struct FolderRule {
  std::string path;                 // absolute, normalised
  std::vector<std::string> urls;    // first is primary
  std::string interface = "web";
  std::string username;             // "" = the file's owner
  std::set<watch::Action> actions;  // default: all six
  std::vector<std::string> include; // globs on the path relative to the folder; empty = all
  std::vector<std::string> exclude;
  // More filters (empty or unset: everything): the username and the interface as reported,
  // the object's type, and a file's size after the operation (a destroy or a directory is
  // never filtered out by size).
  std::vector<std::string> users;
  std::vector<std::string> interfaces;
  std::set<watch::ObjectType> types;
  // Report changes of mode, owner, group or ACL as action=update, type=permission (README,
  // "Permission changes"). `types` lists "permission" (types_permission) to keep them when it
  // names types at all.
  bool permissions = false;
  bool types_permission = false;
  uint64_t min_size = 0;
  std::optional<uint64_t> max_size;
  std::vector<std::string> temp_patterns;
  std::string method = "GET";       // GET | POST (a JSON body)
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  std::string secret;               // "whsec_<base64>" signs requests; "" = unsigned
  std::string file_field;           // POST only: send the file's content as this multipart field
  uint64_t max_file_bytes = 10 << 20;  // larger files are sent without content
  // A Mustache template of the POST body (agent/body_template.h; "" = the JSON object of the
  // fields) and the Content-Type it is sent as, which also chooses how values are escaped.
  std::string body_template;
  std::string content_type;         // "" unless body_template is set; then default application/json
  // nats_token and nats_creds (made absolute), for NATS URLs (delivery::Request::settings).
  std::vector<std::pair<std::string, std::string>> nats_settings;
  // max_per_second, batch_max and batch_wait: how its URL set is paced and batched.
  delivery::LanePolicy pacing;
  std::vector<Behavior> behaviors;
  std::vector<Expectation> expects;
  int line = 0;                     // where the [[folder]] table starts, for later messages
  int column = 0;
};

struct DeliveryConfig {
  std::chrono::milliseconds timeout{10'000};
  std::vector<std::chrono::milliseconds> retry = delivery::default_retry_schedule();
  bool exactly_200 = false;
  // Connections per URL set for first attempts. 1 keeps the receiver's view in the order the
  // operations happened; more trade that order for throughput.
  int connections = 1;
  // HTTP/1.1 pipelining of first attempts (delivery::DispatcherOptions::pipeline_depth):
  // only for receivers known to implement it, such as nginx.
  bool pipelining = false;
  // Committed requests held in memory at most (delivery::DispatcherOptions::window); the rest
  // wait in the outbox and are read back in order.
  size_t in_memory = 10'000;
  // CA certificates that HTTPS receivers are verified against (PEM bundle).
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
};

struct NotifyConfig {
  std::string smtp_url;
  std::string from = "folderhook@localhost";
  std::vector<std::string> to;
};

struct Config {
  std::string file;       // the rules file as given
  std::string state_dir;  // absolute
  int state_dir_line = 0;  // where state_dir is set; 0 = the default
  int state_dir_column = 0;
  std::string log_file;   // "" = stderr
  std::string log_format = "json";  // json | text
  std::string root;       // "" or absolute: reported paths are relative to it, with a leading /
  std::string status_listen = "127.0.0.1:9780";  // "" = no status endpoint
  // A folder never indexed (first start): report what is in it as created ("report"), or only
  // index it ("build", the default).
  bool initial_scan_report = false;
  std::chrono::milliseconds behavior_interval{60'000};
  std::string robot_username = "folderhook";
  std::string backend = "auto";  // auto | fanotify | inotify
  // [interfaces]: interface -> process names that mean it (fanotify), defaults merged in.
  std::vector<std::pair<std::string, std::vector<std::string>>> interfaces;
  DeliveryConfig delivery;
  NotifyConfig notify;
  std::vector<FolderRule> folders;
  // [accounts]: users and groups (agent/accounts.h) reported to these urls, with the method,
  // headers and secret as a folder has them. Its path is "[accounts]", the deliveries' rule.
  std::optional<FolderRule> accounts;
};

// The keys the parser accepts in each table: "" is the top level, "folder.behavior" is
// [[folder.behavior]]. Any other key is an error (with a did-you-mean). For the docs' tests.
struct KnownKeys {
  std::string_view table;
  std::vector<std::string_view> keys;
};
std::vector<KnownKeys> known_keys();

std::vector<std::string> default_temp_patterns();
// The process names of each interface when [interfaces] does not list it.
std::vector<std::pair<std::string, std::vector<std::string>>> default_interfaces();

// Parses rules.toml text. Relative paths are resolved against `base_dir` (the agent's working
// directory). On success `errors` is empty.
std::optional<Config> parse_config(std::string_view text, const std::string& file,
                                   const std::string& base_dir,
                                   std::vector<ConfigError>& errors);

// Reads and parses the file at `file`.
std::optional<Config> load_config(const std::string& file, std::vector<ConfigError>& errors);

// The same for another program's file with rules.toml's schema (`folderhook relay`): the
// top-level tables named in `extra_tables` are accepted, left unread for the caller.
std::optional<Config> load_config(const std::string& file, std::vector<ConfigError>& errors,
                                  const std::vector<std::string>& extra_tables);

// True when the rules file holds a secret, an Authorization header, or a URL with a password or
// a query parameter named like a credential (what delivery::mask_url hides).
bool holds_secrets(const Config& config);

// What only the filesystem can tell: folders that exist, a state_dir that can be created and
// written and that no other user can write (delivery::state_dir_problem). Appends to `errors`;
// returns warnings (folders missing but whose parent exists; secrets every user can read).
std::vector<std::string> check_environment(const Config& config, std::vector<ConfigError>& errors);

}  // namespace folderhook::agent
