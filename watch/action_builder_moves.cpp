// ActionBuilder: MOVED_FROM and MOVED_TO, named once they pair (RenamePairer) or as a destroy
// or a create when they do not: moved out of, or in from outside, every watched folder.
#include "watch/action_builder.h"

namespace folderhook::watch {

void ActionBuilder::on_moved_from(const std::string& path, bool is_dir, uint32_t cookie,
                                  Timestamp now) {
  PendingMove move;
  move.path = path;
  move.is_dir = is_dir;
  move.deadline = now.mono + options_.move_pairing;
  move.at = now.wall;
  move.actor = actor_;
  if (!is_dir) {
    // What happened before the move is reported before it.
    if (const auto read = pending_.take_read(path)) {
      emit(Action::kRead, path, "", ObjectType::kFile, table_.known_or(path, Entry{}).uid,
           read->at, read->actor);
    }
    if (const PendingWrite* write = pending_.write(path)) {
      if (write->temp || !write->closed) {
        move.write = pending_.take_write(path);  // the upload continues under the new name
      } else {
        flush_write_now(path, now);
      }
    }
  }
  // The MOVED_TO may arrive in a later read(), or never (moved out of every watched folder):
  // hold the actions behind this one until it pairs or the pairing window ends.
  move.slot = order_.reserve();
  moves_.moved_from(cookie, std::move(move));
}

void ActionBuilder::on_moved_to(const std::string& path, bool is_dir, uint32_t cookie,
                                Timestamp now) {
  std::optional<PendingMove> paired = moves_.moved_to(cookie);
  if (!paired) {
    // Moved in from outside every watched folder: new here, and complete (rename is atomic).
    const auto info = fs_.stat(path);
    const uid_t uid = info ? info->uid : 0;
    if (is_dir) {
      if (const Entry* entry = table_.known(path); entry && entry->indexed) {
        // The index listed it after it moved in: forget that, the move-in reports it all.
        table_.forget_within(path, [](const std::string&, const Entry& e) { return e.indexed; });
      }
      if (table_.is_known(path)) return;
      emit(Action::kCreate, path, "", ObjectType::kDirectory, uid, now.wall, actor_);
      table_.set_known(path, Entry{FileKind::kDirectory, uid});
      watch_tree(path, ScanMode::kMovedIn, now);
      report_watch_failures();
      return;
    }
    pending_.take_write(path);
    const bool existed = table_.is_known(path);
    emit(existed ? Action::kUpdate : Action::kCreate, path, "", ObjectType::kFile, uid, now.wall,
         actor_);
    table_.set_known(path, info ? Entry::of(*info) : Entry{FileKind::kRegular, uid});
    if (info && info->kind == FileKind::kRegular) {
      moved_in_.moved_in(path, info->size, info->mtime_ns, now.mono);
    }
    return;
  }
  PendingMove move = std::move(*paired);
  if (move.is_dir) {
    const Entry* entry = table_.known(move.path);
    const uid_t uid = entry ? entry->uid : owner_now(path);
    emit(Action::kMove, move.path, path, ObjectType::kDirectory, uid, now.wall, actor_, move.slot);
    rebase_tree(move.path, path);
    order_.fill(move.slot);
    return;
  }
  if (move.write) {
    PendingWrite write = *move.write;
    if (write.temp && !is_temp_name(path, options_.roots)) {
      // An upload through a temporary name is complete: one create (or update) for the final
      // name, nothing for the temporary one.
      write.temp = false;
      write.closed = true;
      // rsync reads the old file as the basis of its delta: part of this update, not a read.
      pending_.take_read(path);
      write.at = now.wall;
      write.deadline = now.mono + options_.settle;
    }
    if (!write.temp) write.is_new = !table_.is_known(path);
    if (actor_.pid != 0) write.actor = actor_;
    PendingWrite& pending = pending_.put_write(path, write);
    if (auto open = open_counts_.find(move.path); open != open_counts_.end()) {
      open_counts_[path] += open->second;  // its writer may hold it open under the new name
      open_counts_.erase(move.path);
    }
    order_.fill(move.slot);
    // A completed temp upload is named at its rename, like a file at its close.
    if (!name_at_close(path, now) && write.deadline) {
      pending_.schedule_write(path, pending, *write.deadline);
    }
    return;
  }
  Entry entry;
  if (const Entry* old = table_.known(move.path)) {
    entry = *old;
    table_.forget(move.path);
  } else if (const auto info = fs_.stat(path)) {
    entry = Entry::of(*info);
  }
  emit(Action::kMove, move.path, path, ObjectType::kFile, entry.uid, now.wall, actor_, move.slot);
  table_.set_known(path, entry);
  if (auto open = open_counts_.find(move.path); open != open_counts_.end()) {
    open_counts_[path] += open->second;
    open_counts_.erase(move.path);
  }
  order_.fill(move.slot);
}

}  // namespace folderhook::watch
