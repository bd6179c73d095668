// ActionBuilder: construction, record dispatch, and the per-file record handlers.
#include "watch/action_builder.h"

#include <algorithm>

#include "watch/glob.h"

namespace folderhook::watch {

namespace {

// How long what may still matter to a later record is kept: 10 settle windows, at least 5 s.
std::chrono::steady_clock::duration history_of(std::chrono::steady_clock::duration settle) {
  return std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(5), 10 * settle);
}

}  // namespace

std::vector<std::string> ActionBuilder::top_roots_of(const std::vector<RootOptions>& options) {
  std::vector<std::string> roots;
  for (const RootOptions& root : options) roots.push_back(root.path);
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  // Nested roots are watched through the root that contains them: each directory once.
  std::vector<std::string> top;
  for (const std::string& root : roots) {
    const bool nested = std::any_of(roots.begin(), roots.end(), [&](const std::string& other) {
      return other != root && path_is_within(root, other);
    });
    if (!nested) top.push_back(root);
  }
  return top;
}

ActionBuilder::ActionBuilder(WatchOptions options, FileSystem& fs, Logger logger, Scope scope,
                             ReadMarkers* markers)
    : options_(std::move(options)),
      fs_(fs),
      markers_(markers),
      logger_(std::move(logger)),
      scope_(scope),
      // Read closes are kept as long as a pending read may wait for its copy (tick()).
      copies_(scope == Scope::kPerDirectory, history_of(options_.settle)),
      moved_in_(history_of(options_.settle)) {
  top_roots_ = top_roots_of(options_.roots);
  set_permission_roots();
}

void ActionBuilder::start(Timestamp now) { start(now, StartScan{}); }

void ActionBuilder::start(Timestamp now, StartScan scan) {
  start_scan_ = scan;
  in_start_ = true;
  for (const std::string& root : top_roots_) start_root(root, now);
  in_start_ = false;
  report_watch_failures();
  start_scan_ = {};
}

void ActionBuilder::start_root(const std::string& root, Timestamp now) {
  const auto info = fs_.stat(root);
  if (info && info->kind == FileKind::kDirectory) {
    table_.set_known(root, Entry{FileKind::kDirectory, info->uid});
    if (whole_fs()) {
      index_stack_.push_back(root);  // tick() builds the index: the marks are already live
    } else {
      if (start_scan_.snapshot) {
        start_scan_.snapshot->add(root,
                                  IndexEntry{ObjectType::kDirectory, meta_of(*info, now.wall)});
      }
      watch_tree(root, ScanMode::kInitial, now);
    }
  } else {
    missing_roots_.insert(root);
    root_recheck_ = now.mono + kRootRecheck;
    log("warn", "watched folder does not exist yet; it will be watched when it appears",
        {{"path", root}});
  }
}

void ActionBuilder::feed(const Record& record, Timestamp now) {
  if (record.kinds.has(RecordKind::kMarker)) {
    copies_.marker_read(record.marker);
    return;
  }
  ++seq_;
  ++stats_.events;
  expire_moves(now);
  if (record.kinds.has(RecordKind::kOverflow)) {
    on_overflow(now);
    return;
  }
  if (whole_fs()) {
    feed_by_path(record, now);
  } else {
    feed_by_watch(record, now);
  }
}

void ActionBuilder::feed_by_watch(const Record& record, Timestamp now) {
  if (record.kinds.has(RecordKind::kWatchRemoved)) {
    table_.remove(record.wd);
    return;
  }
  const auto dir = table_.path_of(record.wd);
  if (!dir) return;  // a watch we already dropped
  if (record.name.empty()) {
    // Records about the watched directory itself. A deleted or moved subdirectory is reported
    // through its parent; only a top root has no watched parent to report it.
    if (record.kinds.has(RecordKind::kSelfDeleted)) {
      on_self_gone(record.wd, *dir, now);
    } else if (record.kinds.has(RecordKind::kSelfMoved) && is_top_root(*dir)) {
      on_self_gone(record.wd, *dir, now);
    }
    return;
  }
  const std::string path = *dir == "/" ? "/" + record.name : *dir + "/" + record.name;
  if (ignored(path)) return;
  dispatch(path, record, now);
}

void ActionBuilder::feed_by_path(const Record& record, Timestamp now) {
  if (record.name.empty() || ignored(record.dir)) return;
  const std::string path = record.dir == "/" ? "/" + record.name : record.dir + "/" + record.name;
  if (ignored(path)) return;
  actor_ = record.actor;
  if (!root_event(path, record, now)) {
    const auto root = std::find_if(top_roots_.begin(), top_roots_.end(), [&](const auto& r) {
      return path_is_within(record.dir, r);
    });
    // Outside every root, or inside one that is missing: its appearance reports what it holds.
    if (root != top_roots_.end() && !missing_roots_.count(*root)) {
      // A directory the index has not reached yet: remember its handle so that its events
      // resolve by handle from now on, even after it is deleted.
      if (!table_.wd_of(record.dir)) {
        if (const int wd = fs_.add_watch(record.dir); wd >= 0) table_.add(wd, record.dir);
      }
      dispatch(path, record, now);
    }
  }
  actor_ = Actor{};
}

bool ActionBuilder::root_event(const std::string& path, const Record& record, Timestamp now) {
  // A whole-filesystem backend sees a root itself come and go in its parent directory.
  if (!is_top_root(path) || !record.is_dir) return false;
  const RecordKinds& kinds = record.kinds;
  if (kinds.has(RecordKind::kDeleted) || kinds.has(RecordKind::kMovedFrom)) {
    if (!missing_roots_.count(path)) root_gone(path, now);
    return true;
  }
  const bool appeared = kinds.has(RecordKind::kCreated) || kinds.has(RecordKind::kMovedTo);
  if (appeared && missing_roots_.erase(path)) {
    log("info", "watched folder appeared; watching it", {{"path", path}});
    if (kinds.has(RecordKind::kCreated)) {
      on_directory_created(path, now);
    } else {
      on_moved_to(path, true, 0, now);
    }
    return true;
  }
  return appeared;  // already watched: a stale or duplicate event
}

void ActionBuilder::dispatch(const std::string& path, const Record& record, Timestamp now) {
  const RecordKinds& kinds = record.kinds;
  const bool is_dir = record.is_dir;
  // Directory opens and closes are listings, never reads.
  if (kinds.has(RecordKind::kCreated)) {
    if (is_dir) {
      on_directory_created(path, now);
    } else {
      on_file_created(path, now);
    }
  }
  if (kinds.has(RecordKind::kOpened) && !is_dir) on_open(path);
  if (kinds.has(RecordKind::kClosedWrite) && !is_dir) on_close_write(path, now);
  if (kinds.has(RecordKind::kClosedRead) && !is_dir) {
    on_close_nowrite(path, now);
    retry_awaiting_source(path, now);
  }
  if (kinds.has(RecordKind::kDeleted)) on_deleted(path, is_dir, now);
  if (kinds.has(RecordKind::kMovedFrom)) on_moved_from(path, is_dir, record.cookie, now);
  if (kinds.has(RecordKind::kMovedTo)) on_moved_to(path, is_dir, record.cookie, now);
  if (kinds.has(RecordKind::kAttrib) && !permission_roots_.empty()) on_attrib(path, is_dir, now);
}

void ActionBuilder::on_file_created(const std::string& path, Timestamp now) {
  // Already found by the scan of a new directory: the CREATE is the same file, not a new one.
  if (const Entry* entry = table_.known(path); entry && entry->indexed) {
    table_.forget(path);  // listed by the index after the mark: the CREATE is the truth
  }
  if (table_.is_known(path) || pending_.has_write(path)) return;
  PendingWrite write;
  write.actor = actor_;
  write.temp = is_temp_name(path, options_.roots);
  write.at = now.wall;
  write.first_seq = seq_;
  pending_.created_unopened();
  // A hard link, symlink or special file gets no OPEN: it is created after this window, unless
  // the old name of a link is unlinked within it (unlinked_after_link).
  pending_.schedule_write(path, pending_.put_write(path, write), now.mono + options_.settle);
}

void ActionBuilder::on_open(const std::string& path) {
  if (copies_.own_open(path)) return;
  ++open_counts_[path];
  moved_in_.opened(path);  // its close is this opener's: a write
  if (PendingWrite* write = pending_.write(path); write && !write->closed) {
    // A writer holds it: the upload is complete only when it closes.
    write->opened = true;
    write->deadline.reset();
  }
}

namespace {

void count_close(std::map<std::string, int>& open_counts, const std::string& path) {
  auto it = open_counts.find(path);
  if (it == open_counts.end()) return;
  if (--it->second <= 0) open_counts.erase(it);
}

}  // namespace

void ActionBuilder::on_close_write(const std::string& path, Timestamp now) {
  count_close(open_counts_, path);
  const auto info = fs_.stat(path);
  // A descriptor opened before the file moved in closed it, changing nothing: no write.
  if (info && moved_in_.close_adds_nothing(path, info->size, info->mtime_ns)) return;
  PendingWrite* pending = pending_.write(path);
  if (pending == nullptr) {
    PendingWrite write;
    // Written before we could see its CREATE (a race at start, a record lost to an overflow):
    // new to the receiver if nothing known names it. A whole-filesystem mark knows that only
    // once its background index is built; before, an unknown file may simply not be listed yet.
    write.is_new = !table_.is_known(path) && (!whole_fs() || index_stack_.empty());
    write.temp = write.is_new && is_temp_name(path, options_.roots);
    write.first_seq = seq_;
    pending = &pending_.put_write(path, write);
  }
  PendingWrite& write = *pending;
  write.opened = true;
  write.closed = true;
  write.at = now.wall;
  if (actor_.pid != 0) write.actor = actor_;
  if (info) write.size_seen = info->size;
  // A temp file waits for its rename. Any other is named now, its content complete, unless
  // something says it may still change: then the settle window merges the writes that follow,
  // every close restarting it.
  if (write.temp) {
    write.deadline.reset();
  } else if (!name_at_close(path, now, &info)) {
    pending_.schedule_write(path, write, now.mono + options_.settle);
  }
}

void ActionBuilder::on_close_nowrite(const std::string& path, Timestamp now) {
  if (copies_.own_close(path)) return;
  count_close(open_counts_, path);
  if (copies_.read_closed(path, seq_, now.mono, actor_.pid)) return;  // part of a copy
  if (PendingWrite* pending = pending_.write(path)) {
    PendingWrite& write = *pending;
    if (write.is_new && !write.closed && write.opened) {
      // Its creator closed it without writing: it is complete, and empty.
      write.closed = true;
      write.at = now.wall;
      if (!write.temp && !name_at_close(path, now)) {
        pending_.schedule_write(path, write, now.mono + options_.settle);
      }
    }
    return;  // a file still settling is not read by anyone worth naming
  }
  const Entry* entry = lookup(path);
  if (entry == nullptr || entry->kind != FileKind::kRegular) return;
  // Held for the settle window: if this read was the source of a copy, the copy names it.
  pending_.hold_read(path, PendingRead{now.mono + options_.settle, {}, now.wall, seq_, actor_});
}

void ActionBuilder::on_deleted(const std::string& path, bool is_dir, Timestamp now) {
  if (is_dir) {
    // Not indexed yet: what is known beneath it is still reported, and the directory too.
    if (whole_fs()) table_.known_or(path, Entry{FileKind::kDirectory, kUnknownUid, true});
    forget_tree(path, now, true, 0, actor_);
    return;
  }
  if (const auto read = pending_.take_read(path)) {
    emit(Action::kRead, path, "", ObjectType::kFile, table_.known_or(path, Entry{}).uid, read->at,
         read->actor);
  }
  const bool was_pending = pending_.has_write(path);
  flush_write_now(path, now);
  open_counts_.erase(path);
  if (unlinked_after_link(path, now)) return;
  if (const Entry* entry = table_.known(path)) {
    const ObjectType type =
        entry->kind == FileKind::kDirectory ? ObjectType::kDirectory : ObjectType::kFile;
    emit(Action::kDestroy, path, "", type, entry->uid, now.wall, actor_);
    table_.forget(path);
  } else if (whole_fs() && !was_pending) {
    // Existed before the index reached it (a pending write never reported stays unreported).
    emit(Action::kDestroy, path, "", ObjectType::kFile, kUnknownUid, now.wall, actor_);
  }
}

void ActionBuilder::on_self_gone(int wd, const std::string& dir, Timestamp now) {
  if (!is_top_root(dir)) {
    table_.remove(wd);
    return;
  }
  root_gone(dir, now);
}

void ActionBuilder::root_gone(const std::string& dir, Timestamp now) {
  // A watched root deleted or moved away has no watched parent to report it: report it here
  // and look for it again until it reappears.
  forget_tree(dir, now, true, 0, actor_);
  missing_roots_.insert(dir);
  root_recheck_ = now.mono + kRootRecheck;
  log("warn", "watched folder is gone; it will be watched again when it reappears",
      {{"path", dir}});
}

void ActionBuilder::on_overflow(Timestamp now) {
  ++stats_.overflows;
  const std::string kernel = whole_fs() ? "fanotify" : "inotify";
  // The lost records may include the CLOSE a writer's file waits for, and the closes that
  // balance the open counts; and until the queue is read empty, so may the records after this
  // one (queue_drained).
  assume_lost_closes(now);
  after_overflow_ = true;
  log("warn",
      kernel + " queue overflowed: operations were lost (raise fs." + kernel +
          ".max_queued_events); a rescan is needed to name them",
      {{"overflows", stats_.overflows}});
  if (options_.on_overflow) options_.on_overflow();
}

void ActionBuilder::queue_drained(Timestamp now) {
  if (!after_overflow_) return;
  after_overflow_ = false;
  assume_lost_closes(now);
}

void ActionBuilder::assume_lost_closes(Timestamp now) {
  pending_.settle_unclosed(now.mono + options_.settle);
  open_counts_.clear();
  moved_in_.forget_all();  // an OPEN of it may have been lost: its next close is a write
}

bool ActionBuilder::ignored(const std::string& path) const {
  return std::any_of(options_.ignore_paths.begin(), options_.ignore_paths.end(),
                     [&](const std::string& ignore) { return path_is_within(path, ignore); });
}

void ActionBuilder::log(std::string_view level, std::string_view msg,
                        const nlohmann::json& fields) const {
  if (logger_) logger_(level, msg, fields);
}

WatchStats ActionBuilder::stats() const {
  WatchStats stats = stats_;
  stats.watches = table_.size();
  stats.indexing = !index_stack_.empty();
  stats.missing_roots = missing_roots_.size();
  return stats;
}

const ActionBuilder::Entry* ActionBuilder::lookup(const std::string& path) {
  if (const Entry* known = table_.known(path)) return known;
  if (!whole_fs()) return nullptr;
  // Not indexed yet. A file gone by now was a regular file: fanotify marks directories.
  const auto info = fs_.stat(path);
  const Entry entry =
      info ? Entry::of(*info, true) : Entry{FileKind::kRegular, kUnknownUid, true};
  return &table_.set_known(path, entry);
}

uid_t ActionBuilder::owner_now(const std::string& path) {
  const auto info = fs_.stat(path);
  return info ? info->uid : 0;
}

}  // namespace folderhook::watch
