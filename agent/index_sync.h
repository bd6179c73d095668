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
// What `action` does to the stored index, as watch::apply_to_index() does it in memory.
void append_index_changes(const watch::FileAction& action,
                          std::vector<delivery::IndexChange>& out);
std::vector<delivery::IndexChange> index_changes(watch::IndexUpdate&& update);

}  // namespace folderhook::agent
