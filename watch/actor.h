// Actor: who did an operation, when the backend can tell (fanotify reports the pid behind each
// event; inotify cannot). Resolved when the event is read, because the process may be gone
// soon after.
#pragma once

#include <string>

namespace folderhook::watch {

struct Actor {
  int pid = 0;            // 0: unknown (inotify, or an event without a process)
  std::string username;   // the process's real uid as a name; "" when the process was gone
  std::string interface;  // the interface its process names map to; "" when none matched
  bool gone = false;      // the process had exited before it could be looked up
};

}  // namespace folderhook::watch
