// FileAction: one file operation named the way a person would name it. This is what watch/
// produces and the only thing agent/ needs to know about the kernel.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "common/object_meta.h"

namespace folderhook::watch {

enum class Action { kCreate, kRead, kUpdate, kDestroy, kMove, kCopy };
enum class ObjectType { kFile, kDirectory };

// "create", "read", "update", "destroy", "move", "copy".
std::string_view to_string(Action action);
std::optional<Action> parse_action(std::string_view name);
// "file" or "directory".
std::string_view to_string(ObjectType type);

// What the index (watch/index.h) records of an object (common/object_meta.h: the same
// definition as the row delivery/ stores).
using FileMeta = ObjectMeta;

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
