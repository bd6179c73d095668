// FileAction: one file operation named the way a person would name it. This is what watch/
// produces and the only thing agent/ needs to know about the kernel.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace folderhook::watch {

enum class Action { kCreate, kRead, kUpdate, kDestroy, kMove, kCopy };
enum class ObjectType { kFile, kDirectory };

// "create", "read", "update", "destroy", "move", "copy".
std::string_view to_string(Action action);
std::optional<Action> parse_action(std::string_view name);
// "file" or "directory".
std::string_view to_string(ObjectType type);

// What the index (watch/index.h) records of an object: enough to recognise it again after the
// fact (same dev and inode: the same object; same size and mtime: the same content).
struct FileMeta {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  // For a directory, 0 unless its ctime was at least kTrustedAge old when it was read: only
  // then may a later scan trust an unchanged ctime to mean an unchanged listing (watch/index.h).
  int64_t ctime_ns = 0;
  uint32_t uid = 0;
  // Recorded only in a folder with `permissions = true` (watch/permissions.h), so that a change
  // made while nothing watched (the agent stopped, a queue overflow) is told after the fact:
  // `permissions` says the three below are known. Unknown (a folder without the key, a row
  // written before they were kept) is never compared, only recorded.
  bool permissions = false;
  uint32_t mode = 0;  // st_mode & 07777
  uint32_t gid = 0;
  uint64_t acl = 0;   // Permissions::acl
  bool operator==(const FileMeta&) const = default;
};

// A change of mode, owner, group or ACL (`permissions = true`): the values after it. The
// webhook reports it as action=update, type=permission.
struct PermissionChange {
  uint32_t mode = 0;   // st_mode & 07777
  std::string owner;   // user name, or the uid as digits when it has none
  std::string group;   // group name, or the gid as digits
};

struct FileAction {
  Action action = Action::kCreate;
  std::string path;         // absolute path of the object operated on (raw bytes, may be non-UTF-8)
  std::string destination;  // absolute new path; only for kMove and kCopy
  std::chrono::system_clock::time_point at;  // when the agent read the operation from the kernel
  std::string username;     // owner (inotify) resolved to a name, or the uid as digits
  // Who did it, when the backend can tell (fanotify): the user behind the process (its real
  // uid as a name) and the interface its process name maps to. "" when unknown: agent/ then
  // uses `username` and the folder's interface.
  std::string actor_username;
  std::string actor_interface;
  // fanotify: the pid of the process behind it, when that process had exited before it could
  // be looked up (the folder's interface and the file's owner stand in); 0 otherwise.
  int actor_gone_pid = 0;
  ObjectType type = ObjectType::kFile;
  bool catch_up = false;    // reported by a rescan rather than a live kernel event
  // The object as it was when reported (for destroy: as last seen; zero when unknown): what
  // the index records for `path` (`destination` for move and copy; nothing for a read).
  FileMeta meta;
  // Set on an update that changed only permissions (`type` still says file or directory).
  std::optional<PermissionChange> permission;
};

}  // namespace folderhook::watch
