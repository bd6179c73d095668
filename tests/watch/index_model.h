// The tests' model of what reporting an action does to the index, in memory: create, update
// and copy record the object at path (destination for copy), destroy erases the path and all
// beneath it, move moves the subtree and records the object at its destination (when the action
// has metadata), read changes nothing. The agent's own version writes the same rows to the
// outbox (agent/index_sync.cpp); these tests check that the catch-up and the builder keep an
// index that evolves this way consistent with the disk.
#pragma once

#include "watch/file_action.h"
#include "watch/index.h"

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

}  // namespace folderhook::watch
