#include "agent/router.h"

#include <algorithm>

#include "agent/webhook.h"
#include "watch/glob.h"
#include "watch/paths.h"

namespace folderhook::agent {
namespace {

bool any_match(const std::vector<std::string>& globs, std::string_view relative) {
  for (const std::string& glob : globs) {
    if (watch::glob_match(glob, relative)) return true;
  }
  return false;
}

// The rule's filters on one of the action's paths.
bool rule_wants_path(const FolderRule& rule, std::string_view path) {
  if (!watch::path_is_within(path, rule.path)) return false;
  const std::string_view relative = relative_to_folder(rule.path, path);
  if (!rule.include.empty() && !any_match(rule.include, relative)) return false;
  return !any_match(rule.exclude, relative);
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

// The filters that do not look at a path: who, through what, what kind, how big.
bool rule_wants_object(const FolderRule& rule, const watch::FileAction& action) {
  if (action.permission) {
    // Only where asked for; `types`, when it names any, must name "permission".
    if (!rule.permissions) return false;
    if (!rule.types.empty() && !rule.types_permission) return false;
  } else if ((!rule.types.empty() || rule.types_permission) && !rule.types.contains(action.type)) {
    return false;
  }
  if (!listed(rule.users, reported_username(action, rule))) return false;
  if (!listed(rule.interfaces, reported_interface(action, rule))) return false;
  if (action.action == watch::Action::kDestroy || action.type == watch::ObjectType::kDirectory) {
    return true;  // a destroy has no size left, a directory none that means anything
  }
  const uint64_t size = action.meta.size;
  return size >= rule.min_size && (!rule.max_size || size <= *rule.max_size);
}

}  // namespace

std::vector<const FolderRule*> route(const std::vector<FolderRule>& rules,
                                     const watch::FileAction& action) {
  std::vector<const FolderRule*> out;
  const bool has_destination =
      action.action == watch::Action::kMove || action.action == watch::Action::kCopy;
  for (const FolderRule& rule : rules) {
    if (!rule.actions.contains(action.action) || !rule_wants_object(rule, action)) continue;
    if (rule_wants_path(rule, action.path) ||
        (has_destination && rule_wants_path(rule, action.destination))) {
      out.push_back(&rule);
    }
  }
  return out;
}

std::string_view relative_to_folder(std::string_view folder, std::string_view path) {
  std::string_view relative = path.substr(folder.size());
  if (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  return relative;
}

const FolderRule* outermost_folder(const std::vector<FolderRule>& rules, std::string_view path) {
  const FolderRule* best = nullptr;
  for (const FolderRule& rule : rules) {
    if (watch::path_is_within(path, rule.path) &&
        (!best || rule.path.size() < best->path.size())) {
      best = &rule;
    }
  }
  return best;
}

}  // namespace folderhook::agent
