// Router: which folder rules want a FileAction. Pure; the rules are fixed for its lifetime.
#pragma once

#include <vector>

#include "agent/config.h"
#include "watch/file_action.h"

namespace folderhook::agent {

// Every rule whose folder contains the action's path or destination, whose actions include it,
// and whose include/exclude globs (on the path relative to the folder) let it through; once
// per rule, in the order of the rules file.
std::vector<const FolderRule*> route(const std::vector<FolderRule>& rules,
                                     const watch::FileAction& action);

}  // namespace folderhook::agent
