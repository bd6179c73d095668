#include "agent/accounts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/webhook.h"
#include "delivery/lane_policy.h"

namespace folderhook::agent {
namespace {

constexpr std::string_view kSnapshotHeader = "folderhook accounts 1";
constexpr const char* kSnapshotFile = "accounts.snapshot";

// The ':'-separated fields of one line; never more than `limit` (the rest stays in the last).
std::vector<std::string_view> split_fields(std::string_view line, size_t limit) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < limit) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) break;
    out.push_back(line.substr(0, colon));
    line.remove_prefix(colon + 1);
  }
  out.push_back(line);
  return out;
}

// Calls `each` with every line of `text` that can be an entry.
template <typename Each>
void for_each_entry_line(std::string_view text, Each&& each) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') {
      continue;
    }
    each(line);
  }
}

std::string read_whole(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) error = "cannot read " + path;
  return text.str();
}

void diff_kind(const std::map<std::string, AccountFields>& before,
               const std::map<std::string, AccountFields>& after, const std::string& type,
               std::vector<AccountChange>& out) {
  for (const auto& [name, fields] : after) {
    const auto it = before.find(name);
    if (it == before.end()) out.push_back({"create", type, name, fields});
    else if (it->second != fields) out.push_back({"update", type, name, fields});
  }
  for (const auto& [name, fields] : before) {
    if (!after.count(name)) out.push_back({"destroy", type, name, fields});
  }
}

}  // namespace

std::map<std::string, AccountFields> parse_passwd(std::string_view text) {
  std::map<std::string, AccountFields> users;
  for_each_entry_line(text, [&](std::string_view line) {
    const auto f = split_fields(line, 7);
    if (f.size() < 7 || f[0].empty()) return;
    // f[1] is the password field: skipped. f[4] is the gecos: not reported.
    users.emplace(std::string(f[0]), AccountFields{{"uid", std::string(f[2])},
                                                   {"gid", std::string(f[3])},
                                                   {"home", std::string(f[5])},
                                                   {"shell", std::string(f[6])}});
  });
  return users;
}

std::map<std::string, AccountFields> parse_group(std::string_view text) {
  std::map<std::string, AccountFields> groups;
  for_each_entry_line(text, [&](std::string_view line) {
    const auto f = split_fields(line, 4);
    if (f.size() < 4 || f[0].empty()) return;
    groups.emplace(std::string(f[0]),
                   AccountFields{{"gid", std::string(f[2])}, {"members", std::string(f[3])}});
  });
  return groups;
}

std::vector<AccountChange> diff_accounts(const AccountSnapshot& before,
                                         const AccountSnapshot& after) {
  std::vector<AccountChange> out;
  diff_kind(before.users, after.users, "user", out);
  diff_kind(before.groups, after.groups, "group", out);
  return out;
}

std::vector<std::pair<std::string, std::string>> account_webhook_fields(
    const AccountChange& change, std::string_view username,
    std::chrono::system_clock::time_point at) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"action", change.action},         {"type", change.type},
      {"path", change.name},             {"username", std::string(username)},
      {"interface", "robot"},            {"at", format_at(at)}};
  fields.insert(fields.end(), change.fields.begin(), change.fields.end());
  return fields;
}

delivery::Request make_account_request(const AccountChange& change, const FolderRule& rule,
                                       std::string_view username,
                                       std::chrono::system_clock::time_point at, bool catch_up) {
  delivery::Request request;
  request.fields = account_webhook_fields(change, username, at);
  deliver_as_rule(rule, request);
  request.action = change.action + " " + change.type;
  request.path = change.name;
  request.rule = rule.path;
  request.catch_up = catch_up;
  request.created_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  return request;
}

// One line per entry: "user:NAME:uid:gid:home:shell" or "group:NAME:gid:members". No field can
// hold ':' or a line break (they were split on ':' and read by line).
std::string encode_account_snapshot(const AccountSnapshot& snapshot) {
  std::string out(kSnapshotHeader);
  out += '\n';
  const auto put = [&out](std::string_view kind, const std::map<std::string, AccountFields>& m) {
    for (const auto& [name, fields] : m) {
      out += kind;
      out += ':';
      out += name;
      for (const auto& field : fields) {
        out += ':';
        out += field.second;
      }
      out += '\n';
    }
  };
  put("user", snapshot.users);
  put("group", snapshot.groups);
  return out;
}

std::optional<AccountSnapshot> decode_account_snapshot(std::string_view text, std::string& error) {
  const auto first = text.find('\n');
  if (first == std::string_view::npos || text.substr(0, first) != kSnapshotHeader) {
    error = "not a folderhook accounts snapshot (its first line is not \"" +
            std::string(kSnapshotHeader) + "\")";
    return std::nullopt;
  }
  text.remove_prefix(first + 1);
  AccountSnapshot snapshot;
  int line_no = 1;
  while (!text.empty()) {
    ++line_no;
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const auto f = split_fields(line, 7);
    if (f[0] == "user" && f.size() == 6 && !f[1].empty()) {
      snapshot.users[std::string(f[1])] = {{"uid", std::string(f[2])},
                                           {"gid", std::string(f[3])},
                                           {"home", std::string(f[4])},
                                           {"shell", std::string(f[5])}};
    } else if (f[0] == "group" && f.size() == 4 && !f[1].empty()) {
      snapshot.groups[std::string(f[1])] = {{"gid", std::string(f[2])},
                                            {"members", std::string(f[3])}};
    } else {
      error = "line " + std::to_string(line_no) + " is not a user or a group entry";
      return std::nullopt;
    }
  }
  return snapshot;
}

std::optional<AccountSnapshot> read_account_files(const std::string& dir, std::string& error) {
  const std::string passwd = read_whole(dir + "/passwd", error);
  if (!error.empty()) return std::nullopt;
  const std::string group = read_whole(dir + "/group", error);
  if (!error.empty()) return std::nullopt;
  return AccountSnapshot{parse_passwd(passwd), parse_group(group)};
}

std::string account_snapshot_path(const std::string& state_dir) {
  return state_dir + "/" + kSnapshotFile;
}

std::optional<AccountSnapshot> load_account_snapshot(const std::string& state_dir,
                                                     std::string& error) {
  const std::string path = account_snapshot_path(state_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return std::nullopt;
  const std::string text = read_whole(path, error);
  if (!error.empty()) return std::nullopt;
  auto snapshot = decode_account_snapshot(text, error);
  if (!snapshot) error = path + ": " + error;
  return snapshot;
}

bool save_account_snapshot(const std::string& state_dir, const AccountSnapshot& snapshot,
                           std::string& error) {
  const std::string path = account_snapshot_path(state_dir);
  const std::string temp = path + ".new";
  const std::string text = encode_account_snapshot(snapshot);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = "cannot write " + temp + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  bool ok = ::fchmod(fd, 0600) == 0;  // an older file of that name may have had other bits
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + std::strerror(ok ? errno : saved);
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace folderhook::agent
