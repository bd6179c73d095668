// ActionBuilder: changes of mode, owner, group or ACL in folders with `permissions = true`
// (watch/permissions.h). Folders without it cost nothing here: every entry point returns at
// once while no root asks, and the engines subscribe to attribute events only when one does.

#include <algorithm>

#include "watch/action_builder.h"

namespace folderhook::watch {

void ActionBuilder::set_permission_roots() {
  std::vector<std::string> roots;
  for (const RootOptions& root : options_.roots) {
    if (root.permissions) roots.push_back(root.path);
  }
  const std::vector<std::string> before = std::move(permission_roots_);
  permission_roots_ = std::move(roots);
  const auto listed = [](const std::vector<std::string>& list, const std::string& root) {
    return std::find(list.begin(), list.end(), root) != list.end();
  };
  // A folder that stopped asking: forget what it kept (a folder inside it that still asks
  // takes its baseline again below).
  std::vector<std::string> dropped;
  for (const std::string& root : before) {
    if (!listed(permission_roots_, root)) {
      perms_.erase_tree(root);
      dropped.push_back(root);
    }
  }
  // A folder that started asking while watched: what is known in it is the baseline, so that
  // its first chmod is told from a touch.
  for (const std::string& root : permission_roots_) {
    const bool fresh = !listed(before, root) || permission_root_of(dropped, root) != nullptr;
    if (!fresh) continue;
    for (const std::string& path : table_.known_within(root)) {
      if (path != root) note_permissions(path);
    }
  }
}

std::optional<Permissions> ActionBuilder::note_permissions(const std::string& path) {
  const std::string* root = permission_root_of(permission_roots_, path);
  if (root == nullptr) return std::nullopt;
  const auto now = fs_.permissions(*root, path);
  if (now) perms_.record(path, *now);
  return now;
}

void ActionBuilder::track_permissions(FileAction& action) {
  // What the action records (its meta goes to the stored index, which a later catch-up compares
  // with): the values just read, so that a change reported now is not reported again.
  const auto record = [&](const std::string& path) {
    const auto known = permissions_of(action.meta);
    if (known && action.catch_up) {
      perms_.record(path, *known);  // the scan read them: the same values, no second read
      return;
    }
    const auto now = note_permissions(path);
    if (now && action.meta.ino != 0) set_permissions(action.meta, *now);
  };
  if (action.permission) {
    // on_attrib() recorded it; a catch-up's (a change while nothing watched) is recorded here.
    if (action.catch_up) record(action.path);
    return;
  }
  switch (action.action) {
    case Action::kRead:
      return;
    case Action::kDestroy:
      perms_.erase_tree(action.path);
      return;
    case Action::kMove:
      perms_.move_tree(action.path, action.destination);
      record(action.destination);
      return;
    case Action::kCopy:
      record(action.destination);
      return;
    case Action::kCreate:
    case Action::kUpdate:
      // What the receiver is told exists, as it is now: a chmod before the create was reported
      // (an upload's `cp -p`, `install -m`) is part of the create, not a change of its own.
      record(action.path);
      return;
  }
}

void ActionBuilder::on_attrib(const std::string& path, bool is_dir, Timestamp now) {
  const std::string* root = permission_root_of(permission_roots_, path);
  if (root == nullptr) return;
  // Being written (or just created): its create or update will say how it is.
  if (pending_.has_write(path)) return;
  const Entry* entry = lookup(path);
  if (entry == nullptr) return;  // never reported: nothing changed for the receiver
  const ObjectType type = entry->kind == FileKind::kDirectory || is_dir ? ObjectType::kDirectory
                                                                        : ObjectType::kFile;
  const auto perms = fs_.permissions(*root, path);
  if (!perms || !perms_.changed(path, *perms)) return;  // gone, or a touch, a write, a no-op

  FileAction out;
  out.action = Action::kUpdate;
  out.path = path;
  out.at = now.wall;
  out.username = fs_.user_name(perms->uid);
  out.actor_username = actor_.username;
  out.actor_interface = actor_.interface;
  out.actor_gone_pid = actor_.gone ? actor_.pid : 0;
  out.type = type;
  out.meta.uid = perms->uid;
  if (const auto info = fs_.stat(path)) out.meta = meta_of(*info, now.wall);
  // The stored index takes the new values: the next start does not report this change again.
  if (out.meta.ino != 0) set_permissions(out.meta, *perms);
  out.permission = PermissionChange{perms->mode, fs_.user_name(perms->uid),
                                    fs_.group_name(perms->gid)};
  push(std::move(out), 0);
}

}  // namespace folderhook::watch
