// ActionBuilder: the windows (settle, pairing), copy inference, and the ordered output.
#include <algorithm>

#include "watch/action_builder.h"

namespace folderhook::watch {

namespace {

ObjectType object_type(FileKind kind) {
  return kind == FileKind::kDirectory ? ObjectType::kDirectory : ObjectType::kFile;
}

}  // namespace

class ActionBuilder::SourceProbe : public CopyInference::Probe {
 public:
  explicit SourceProbe(ActionBuilder& builder) : builder_(builder) {}
  std::optional<uint64_t> source_size(const std::string& path) override {
    const Entry* entry = builder_.lookup(path);
    if (entry == nullptr || entry->kind != FileKind::kRegular) return std::nullopt;
    if (const PendingWrite* pending = builder_.pending_.write(path); pending && pending->is_new) {
      return std::nullopt;  // not a source: being written itself
    }
    const auto info = builder_.fs_.stat(path);
    if (!info || info->kind != FileKind::kRegular) return std::nullopt;
    return info->size;
  }
  uint64_t put_marker() override {
    return builder_.markers_ != nullptr ? builder_.markers_->put_marker() : 0;
  }
  std::optional<uint64_t> hash(const std::string& path) override {
    return builder_.fs_.hash(path);
  }

 private:
  ActionBuilder& builder_;
};

void ActionBuilder::tick(Timestamp now) {
  expire_moves(now);
  recheck_missing_roots(now);
  index_step(now);

  while (const auto path = pending_.due_write(now.mono)) {
    settle_write(*path, *pending_.write(*path), now);
  }
  name_due_reads(now);
  trim_history(now);
}

void ActionBuilder::name_due_reads(Timestamp now) {
  while (const auto path = pending_.due_read(now.mono)) {
    PendingRead& read = *pending_.read(*path);
    const CopyInference::HeldRead held{read.seq, read.actor.pid, read.deadline};
    if (const auto later = CopyInference::read_waits_until(held, pending_.writes(), now.mono,
                                                           options_.settle)) {
      pending_.schedule_read(*path, read, *later);
      continue;
    }
    const auto info = fs_.stat(*path);
    const uid_t uid = info ? info->uid : table_.known_or(*path, Entry{}).uid;
    emit(Action::kRead, *path, "", ObjectType::kFile, uid, read.at, read.actor);
    pending_.take_read(*path);
  }
}

std::optional<ActionBuilder::SteadyTime> ActionBuilder::next_deadline() const {
  std::optional<SteadyTime> next = root_recheck_;
  if (!index_stack_.empty()) return SteadyTime{};  // already due: the index goes on at once
  const auto consider = [&](SteadyTime t) {
    if (!next || t < *next) next = t;
  };
  if (const auto pending = pending_.next_deadline()) consider(*pending);
  if (const auto move = moves_.next_deadline()) consider(*move);
  return next;
}

void ActionBuilder::expire_moves(Timestamp now) {
  // In the order they happened: each fills the slot that holds the actions behind it.
  for (PendingMove& move : moves_.expire(now.mono)) finish_move_out(std::move(move), now);
}

void ActionBuilder::finish_move_out(PendingMove move, Timestamp now) {
  // No MOVED_TO within the pairing window: moved out of every watched folder.
  if (move.is_dir) {
    if (whole_fs()) table_.known_or(move.path, Entry{FileKind::kDirectory, kUnknownUid, true});
    forget_tree(move.path, now, true, move.slot, move.actor);
  } else if (!move.write) {  // a temp file or an unfinished upload was never reported
    if (whole_fs()) table_.known_or(move.path, Entry{FileKind::kRegular, kUnknownUid, true});
    if (const Entry* entry = table_.known(move.path)) {
      emit(Action::kDestroy, move.path, "", object_type(entry->kind), entry->uid, move.at,
           move.actor, move.slot);
      table_.forget(move.path);
    }
    open_counts_.erase(move.path);
  }
  order_.fill(move.slot);
}

void ActionBuilder::settle_write(const std::string& path, PendingWrite& write, Timestamp now) {
  std::optional<FileInfo> info;
  const auto look = [&]() -> const std::optional<FileInfo>& { return info = fs_.stat(path); };
  switch (PendingNames::at_deadline(write, look)) {
    case PendingNames::AtDeadline::kWaitRename:
      write.deadline.reset();
      return;
    case PendingNames::AtDeadline::kGone:
      pending_.take_write(path);
      return;
    case PendingNames::AtDeadline::kStillGrowing:
      write.size_seen = info->size;
      pending_.schedule_write(path, write, now.mono + options_.settle);
      return;
    case PendingNames::AtDeadline::kName:
      name_write(path, *info, now);
      return;
  }
}

bool ActionBuilder::name_at_close(const std::string& path, Timestamp now,
                                  const std::optional<FileInfo>* fresh) {
  PendingWrite* write = pending_.write(path);
  if (write == nullptr) return false;
  std::optional<FileInfo> info;
  const auto look = [&]() -> const std::optional<FileInfo>& {
    return info = fresh != nullptr ? *fresh : fs_.stat(path);
  };
  if (PendingNames::at_close(*write, open_counts_.count(path) != 0, look) !=
      PendingNames::AtClose::kName) {
    return false;
  }
  // A file of the same size still open for reading may be its source, and its content can
  // only be compared by reading it. Read now, our OPEN and CLOSE_NOWRITE could come right
  // beside its reader's CLOSE_NOWRITE, and inotify merges two identical records in a row: the
  // reader's close would then be taken for ours, and its read lost. So it is named when that
  // reader closes (retry_awaiting_source), or at the end of the settle window. (fanotify does
  // not report our own reads: no wait.)
  SourceProbe probe(*this);
  if (!whole_fs() && write->is_new && info->kind == FileKind::kRegular &&
      CopyInference::source_still_open(path, info->size, open_counts_, probe)) {
    write->awaits_source = true;
    return false;
  }
  name_write(path, *info, now);
  return true;
}

void ActionBuilder::retry_awaiting_source(const std::string& closed, Timestamp now) {
  if (open_counts_.count(closed)) return;  // another reader still holds it
  for (const std::string& path : pending_.awaiting_source()) {
    PendingWrite* write = pending_.write(path);
    if (write == nullptr) continue;
    write->awaits_source = false;
    // Not named yet (another candidate still open): its settle deadline still stands.
    name_at_close(path, now);
  }
}

void ActionBuilder::name_write(const std::string& path, const FileInfo& info, Timestamp now) {
  const PendingWrite done = *pending_.take_write(path);
  if (done.is_new) {
    const auto source =
        info.kind == FileKind::kRegular ? find_copy_source(path, done, info, now) : std::nullopt;
    if (source) {
      emit(Action::kCopy, *source, path, ObjectType::kFile, info, done.at, done.actor);
    } else {
      emit(Action::kCreate, path, "", object_type(info.kind), info, done.at, done.actor);
    }
  } else {
    emit(Action::kUpdate, path, "", object_type(info.kind), info, done.at, done.actor);
  }
  table_.set_known(path, Entry::of(info));
}

void ActionBuilder::flush_write_now(const std::string& path, Timestamp) {
  const std::optional<PendingWrite> taken = pending_.take_write(path);
  if (!taken || !PendingNames::complete_when_flushed(*taken)) return;
  const PendingWrite& write = *taken;
  const auto info = fs_.stat(path);
  Entry entry;
  if (const Entry* known = table_.known(path)) entry = *known;
  if (info) entry = Entry::of(*info);
  emit(write.is_new ? Action::kCreate : Action::kUpdate, path, "", object_type(entry.kind),
       entry.uid, write.at, write.actor);
  table_.set_known(path, entry);
}

std::optional<std::string> ActionBuilder::find_copy_source(const std::string& dest,
                                                           const PendingWrite& write,
                                                           const FileInfo& dest_info,
                                                           Timestamp now) {
  SourceProbe probe(*this);
  const CopyInference::Copy copy{dest, dest_info.size, write.first_seq, write.actor.pid};
  auto source = copies_.find_source(copy, open_counts_, probe, now.mono);
  if (source) pending_.take_read(*source);  // the copy names this read
  return source;
}

void ActionBuilder::trim_history(Timestamp now) {
  copies_.trim(now.mono);
  moved_in_.trim(now.mono);
}

void ActionBuilder::emit(Action action, const std::string& path, const std::string& destination,
                         ObjectType type, uid_t uid, std::chrono::system_clock::time_point at,
                         const Actor& actor, uint64_t slot) {
  // The object as it is now (gone already: its destroy follows): what the index records, and
  // the size a folder's min_size and max_size look at (a read's too).
  std::optional<FileInfo> info;
  if (action != Action::kDestroy) info = fs_.stat(destination.empty() ? path : destination);
  emit_as(action, path, destination, type, uid, info ? &*info : nullptr, at, actor, slot);
}

void ActionBuilder::emit(Action action, const std::string& path, const std::string& destination,
                         ObjectType type, const FileInfo& now_info,
                         std::chrono::system_clock::time_point at, const Actor& actor) {
  emit_as(action, path, destination, type, now_info.uid, &now_info, at, actor, 0);
}

void ActionBuilder::emit_as(Action action, const std::string& path,
                            const std::string& destination, ObjectType type, uid_t uid,
                            const FileInfo* now_info, std::chrono::system_clock::time_point at,
                            const Actor& actor, uint64_t slot) {
  FileAction out;
  out.action = action;
  out.path = path;
  out.destination = destination;
  out.at = at;
  // The owner; one never seen (gone before the index reached it) is named by its actor.
  out.username = uid == kUnknownUid && !actor.username.empty() ? actor.username
                                                               : fs_.user_name(uid);
  out.actor_username = actor.username;
  out.actor_interface = actor.interface;
  out.actor_gone_pid = actor.gone ? actor.pid : 0;
  out.type = type;
  out.meta.uid = uid;
  if (now_info != nullptr) out.meta = meta_of(*now_info, at);
  push(std::move(out), slot);
}

void ActionBuilder::push(FileAction out, uint64_t slot) {
  if (!permission_roots_.empty()) track_permissions(out);
  if (tracking_) {
    touched_.insert(out.path);
    if (!out.destination.empty()) touched_.insert(out.destination);
  }
  order_.push(std::move(out), slot);
}

std::vector<FileAction> ActionBuilder::take_actions() { return order_.take(); }

}  // namespace folderhook::watch
