// FileAction: one file operation named the way a person would name it. This is what watch/
// produces and the only thing agent/ needs to know about the kernel.
#pragma once

#include <chrono>
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
  ObjectType type = ObjectType::kFile;
  bool catch_up = false;    // reported by a rescan rather than a live kernel event
};

}  // namespace folderhook::watch
