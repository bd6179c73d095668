// The tests' model of what reporting an action does to the index, in memory: create, update
// and copy record the object at path (destination for copy), destroy erases the path and all
// beneath it, move moves the subtree and records the object at its destination (when the action
// has metadata), read changes nothing. The agent's own version writes the same rows to the
// outbox (agent/index_sync.cpp); these tests check that the catch-up and the builder keep an
// index that evolves this way consistent with the disk.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "watch/file_action.h"
#include "watch/index.h"
#include "watch/permissions.h"

namespace folderhook::watch {

inline void apply_to_index(Index& index, const FileAction& action) {
  const IndexEntry entry{action.type, action.meta};
  switch (action.action) {
    case Action::kRead:
      return;
    case Action::kCreate:
    case Action::kUpdate:
      if (action.type == ObjectType::kFile) erase_tree(index, action.path);  // was a directory
      index[action.path] = entry;
      return;
    case Action::kCopy:
      erase_tree(index, action.destination);
      index[action.destination] = entry;
      return;
    case Action::kDestroy:
      erase_tree(index, action.path);
      return;
    case Action::kMove:
      move_tree(index, action.path, action.destination);
      if (action.meta.ino != 0) index[action.destination] = entry;
      return;
  }
}

// One line per action of a catch-up: "update file /r/a", "move file /r/a -> /r/b",
// "update file /r/a permission 0600".
inline std::vector<std::string> catch_up_lines(const CatchUp& c) {
  std::vector<std::string> out;
  for (const FileAction& a : c.actions) {
    std::string line = std::string(to_string(a.action)) + " " + std::string(to_string(a.type)) +
                       " " + a.path;
    if (!a.destination.empty()) line += " -> " + a.destination;
    if (a.permission) line += " permission " + format_mode(a.permission->mode);
    out.push_back(line);
  }
  return out;
}

// Applying the catch-up's actions and then its refreshed entries to `before` must give `now`.
inline void check_catch_up_converges(const Index& before, const Index& now, const CatchUp& c) {
  Index after = before;
  for (const FileAction& a : c.actions) apply_to_index(after, a);
  for (const auto& [path, entry] : c.refreshed) after[path] = entry;
  CHECK(after == now);
}

}  // namespace folderhook::watch
