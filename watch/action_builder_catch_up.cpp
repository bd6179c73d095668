// ActionBuilder: taking in what a catch-up scan found (at start, after a queue overflow).
#include <algorithm>

#include "watch/action_builder.h"

namespace folderhook::watch {

void ActionBuilder::emit_catch_up(std::vector<FileAction> actions) {
  for (FileAction& action : actions) {
    name_catch_up(action);
    push(std::move(action), 0);
  }
}

void ActionBuilder::name_catch_up(FileAction& action) {
  action.username = fs_.user_name(action.meta.uid);
  if (action.permission) {
    action.permission->owner = action.username;
    action.permission->group = fs_.group_name(action.meta.gid);
  }
}

void ActionBuilder::begin_rescan() {
  tracking_ = true;
  touched_.clear();
}

bool ActionBuilder::touched(const std::string& path, bool& by_ancestor) const {
  const auto named = [&](const std::string& p) {
    if (touched_.count(p)) return true;
    return std::any_of(moves_.begin(), moves_.end(),
                       [&](const auto& m) { return m.second.path == p; });
  };
  if (named(path) || pending_.has_write(path)) return true;
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (named(path.substr(0, slash))) {
      by_ancestor = true;
      return true;
    }
  }
  return false;
}

std::vector<std::string> ActionBuilder::apply_catch_up(std::vector<FileAction> actions,
                                                       const std::vector<std::string>& scanned_dirs,
                                                       Timestamp now, bool& subtree_dropped) {
  subtree_dropped = false;
  std::vector<std::string> dropped;
  for (FileAction& action : actions) {
    bool by_ancestor = false;
    if (touched(action.path, by_ancestor) ||
        (!action.destination.empty() && touched(action.destination, by_ancestor))) {
      dropped.push_back(action.path);
      subtree_dropped = subtree_dropped || by_ancestor;
      continue;
    }
    const Entry entry{action.type == ObjectType::kDirectory ? FileKind::kDirectory
                                                            : FileKind::kRegular,
                      action.meta.uid, false, static_cast<uint32_t>(action.meta.ino)};
    switch (action.action) {
      case Action::kCreate:
      case Action::kUpdate:
      case Action::kCopy:
        table_.set_known(action.path, entry);
        break;
      case Action::kDestroy:
        drop_tree(action.path);
        break;
      case Action::kMove:
        rebase_tree(action.path, action.destination);
        table_.set_known(action.destination, entry);
        break;
      case Action::kRead:
        break;
    }
    name_catch_up(action);
    push(std::move(action), 0);
  }
  tracking_ = false;
  touched_.clear();
  // Directories whose CREATE was among the lost records have no watch yet: watch them now;
  // what appeared in them since the scan is new, and reported as such.
  for (const std::string& dir : scanned_dirs) {
    const Entry* entry = table_.known(dir);
    if (entry == nullptr || entry->kind != FileKind::kDirectory) continue;
    if (table_.wd_of(dir)) continue;
    watch_tree(dir, ScanMode::kNewDirectory, now);
  }
  report_watch_failures();
  return dropped;
}

void ActionBuilder::drop_tree(const std::string& dir) {
  // Gone while the records about it were lost: forget it without reporting (the catch-up
  // reports it), pending state included.
  table_.forget_within(dir, [](const std::string&, const Entry&) { return true; });
  pending_.forget_if([&](const std::string& path) { return path_is_within(path, dir); });
  std::erase_if(open_counts_, [&](const auto& e) { return path_is_within(e.first, dir); });
  for (const int wd : table_.watches_within(dir)) {
    fs_.remove_watch(wd);
    table_.remove(wd);
  }
}

}  // namespace folderhook::watch
