// Users and groups ([accounts]): /etc/passwd and /etc/group read into snapshots, two snapshots
// compared into the changes that are reported, and the snapshot kept in state_dir between runs.
// Pure functions (no I/O but read_account_files and the snapshot file's load and save); any
// thread may call them.
//
// Only the fields that are reported are kept: name, uid, gid, home and shell of a user; name,
// gid and members of a group. The password field of either file is skipped, never stored, never
// sent, and /etc/shadow and /etc/gshadow are never opened.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "delivery/request.h"

namespace folderhook::agent {

// A user's or a group's reported fields in order, as (name, value): uid, gid, home, shell for a
// user; gid, members (the file's comma-separated list, as written) for a group.
using AccountFields = std::vector<std::pair<std::string, std::string>>;

struct AccountSnapshot {
  std::map<std::string, AccountFields> users;   // by name
  std::map<std::string, AccountFields> groups;  // by name
  bool operator==(const AccountSnapshot&) const = default;
};

// One line of /etc/passwd is name:password:uid:gid:gecos:home:shell, one of /etc/group
// name:password:gid:members. Lines that are empty, comments, NIS entries (+ or -) or have too
// few fields are skipped; a name listed twice keeps its first line (what getpwnam answers).
std::map<std::string, AccountFields> parse_passwd(std::string_view text);
std::map<std::string, AccountFields> parse_group(std::string_view text);

struct AccountChange {
  std::string action;  // create | update | destroy
  std::string type;    // user | group
  std::string name;
  AccountFields fields;  // as they are now; a destroy's as they were
};

// What turns `before` into `after`: users first, then groups, each by name. An update is a user
// or group whose reported fields changed (a gecos or password change alone is none).
std::vector<AccountChange> diff_accounts(const AccountSnapshot& before,
                                         const AccountSnapshot& after);

// The webhook's fields: action, type, path (the name), username, interface (robot), at, then
// the account's own fields.
std::vector<std::pair<std::string, std::string>> account_webhook_fields(
    const AccountChange& change, std::string_view username,
    std::chrono::system_clock::time_point at);

// The Request for `change` under the [accounts] rule (urls, method, headers, secret). Its log
// labels: action "create user" (etc.), path the name, rule "[accounts]".
delivery::Request make_account_request(const AccountChange& change, const FolderRule& rule,
                                       std::string_view username,
                                       std::chrono::system_clock::time_point at, bool catch_up);

// The state file's text and back. decode returns nullopt and says why for a file it did not
// write (then the agent records anew).
std::string encode_account_snapshot(const AccountSnapshot& snapshot);
std::optional<AccountSnapshot> decode_account_snapshot(std::string_view text, std::string& error);

// Reads `dir`/passwd and `dir`/group. nullopt and `error` when either cannot be read: a file
// that is missing for a moment must not read as every account destroyed.
std::optional<AccountSnapshot> read_account_files(const std::string& dir, std::string& error);

// The snapshot file in state_dir: load gives nullopt with an empty `error` when there is none
// (the first start), with `error` set when it cannot be read or decoded. save writes it 0600
// beside and renames it into place after an fsync: a crash leaves the old or the new one.
std::string account_snapshot_path(const std::string& state_dir);
std::optional<AccountSnapshot> load_account_snapshot(const std::string& state_dir,
                                                     std::string& error);
bool save_account_snapshot(const std::string& state_dir, const AccountSnapshot& snapshot,
                           std::string& error);

}  // namespace folderhook::agent
