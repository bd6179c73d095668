// The index of the watched trees crosses from watch/ to delivery/ as plain rows: watch/ keeps
// it current in memory and names what each action does to it; delivery/ stores it in the same
// transaction as the deliveries. These are the pure conversions between the two.
#pragma once

#include <string>
#include <vector>

#include "delivery/index_change.h"
#include "watch/file_action.h"
#include "watch/index.h"
#include "watch/watcher.h"

namespace folderhook::agent {

// Moves the paths out of `rows`.
watch::Index to_watch_index(std::vector<delivery::IndexRow>&& rows);
delivery::IndexRow to_row(const std::string& path, const watch::IndexEntry& entry);
// What `action` does to the stored index: create, update and copy record the object at path
// (destination for copy), destroy erases the path and all beneath it, move moves the subtree
// and records the object at its destination (when it has metadata), read changes nothing.
void append_index_changes(const watch::FileAction& action,
                          std::vector<delivery::IndexChange>& out);
std::vector<delivery::IndexChange> index_changes(watch::IndexUpdate&& update);

}  // namespace folderhook::agent
