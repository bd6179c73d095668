// Router: which folder rules want a FileAction. Pure; the rules are fixed for its lifetime.
#pragma once

#include <string_view>
#include <vector>

#include "agent/config.h"
#include "watch/file_action.h"

namespace folderhook::agent {

// Every rule whose folder contains the action's path or destination, whose actions include it,
// whose include/exclude globs (on the path relative to the folder) let it through, and whose
// users, interfaces, types, min_size and max_size (FolderRule) let it through; once per rule,
// in the order of the rules file.
std::vector<const FolderRule*> route(const std::vector<FolderRule>& rules,
                                     const watch::FileAction& action);

// `path` (which is `folder` or lies beneath it) relative to `folder`: "" for the folder itself.
std::string_view relative_to_folder(std::string_view folder, std::string_view path);

// The outermost rule whose folder is `path` or holds it (nullptr: none). Everything beneath
// it may be an untrusted user's, so the agent reads and changes `path` beneath that folder.
const FolderRule* outermost_folder(const std::vector<FolderRule>& rules, std::string_view path);

}  // namespace folderhook::agent
