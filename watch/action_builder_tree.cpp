// ActionBuilder: directories, the recursive watch table, and roots that come and go.
#include <cerrno>
#include <cstring>

#include <algorithm>

#include "watch/action_builder.h"
#include "watch/parallel_walk.h"

namespace folderhook::watch {

namespace {

ObjectType object_type(FileKind kind) {
  return kind == FileKind::kDirectory ? ObjectType::kDirectory : ObjectType::kFile;
}

}  // namespace

void ActionBuilder::on_directory_created(const std::string& path, Timestamp now) {
  if (const Entry* entry = table_.known(path); entry && entry->indexed) {
    table_.forget(path);  // listed by the index after the mark: the CREATE is the truth
  }
  if (table_.is_known(path)) return;  // already found by the scan of its parent
  const auto info = fs_.stat(path);
  const uid_t uid = info ? info->uid : 0;
  // A directory is complete when it exists: report it at once, then watch it and scan it so
  // that what was created in it before the watch existed is reported too.
  emit(Action::kCreate, path, "", ObjectType::kDirectory, uid, now.wall, actor_);
  table_.set_known(path, Entry{FileKind::kDirectory, uid});
  watch_tree(path, ScanMode::kNewDirectory, now);
  report_watch_failures();
}

void ActionBuilder::watch_tree(const std::string& top, ScanMode mode, Timestamp now) {
  const std::size_t helpers = options_.walk_helpers.value_or(ParallelWalk::default_helpers());
  if (mode == ScanMode::kInitial && in_start_ && helpers > 0 && fs_.concurrent_walk()) {
    // The start walk, with nothing watched yet: shared with helper threads. What they learn
    // is applied here, one directory at a time, exactly as scan_directory() would.
    if (ignored(top)) return;
    ParallelWalk walk(fs_, helpers, [this](const std::string& path) { return !ignored(path); },
                      start_scan_.cancel);
    walk.run(top, [&](WalkedDirectory& walked) {
      if (const auto dir_ref = note_watch(walked.path, walked.wd)) {
        count_directory();
        add_listing(walked.path, *dir_ref, walked.entries, mode, now, nullptr);
      }
    });
    return;
  }
  std::vector<std::string> stack{top};
  while (!stack.empty()) {
    if (start_scan_.cancel && start_scan_.cancel->load(std::memory_order_relaxed)) return;
    const std::string dir = std::move(stack.back());
    stack.pop_back();
    scan_directory(dir, mode, now, stack);
  }
}

void ActionBuilder::index_step(Timestamp now) {
  for (std::size_t n = 0; n < kIndexBatch && !index_stack_.empty(); ++n) {
    const std::string dir = std::move(index_stack_.back());
    index_stack_.pop_back();
    scan_directory(dir, ScanMode::kInitial, now, index_stack_);
  }
  if (whole_fs() && index_stack_.empty() && !index_done_logged_) {
    index_done_logged_ = true;
    log("info", "index of the watched folders built", {{"directories", table_.size()}});
  }
}

void ActionBuilder::count_directory() {
  if (start_scan_.progress) {
    start_scan_.progress->directories.fetch_add(1, std::memory_order_relaxed);
  }
  if (++walked_ % kSiftEvery == 0) {
    // Our own listings queue records on the watches above (a directory opened and closed),
    // and nothing reads the queue while we walk (at start, or on the loop for a tree moved in
    // or a folder added): taken off the queue now, they cannot overflow it on a large tree.
    // What else was queued is kept for the engine to feed next, in order.
    fs_.sift_queue();
  }
}

std::optional<WatchTable::Ref> ActionBuilder::note_watch(const std::string& dir, int wd) {
  if (wd >= 0) return table_.add(wd, dir);
  if (wd == -ENOSPC) {
    ++watch_failures_;  // keep walking: the log line says how many are needed
    return table_.ref(dir);
  }
  if (wd == -ENOENT || wd == -ENOTDIR) return std::nullopt;  // its DELETE or MOVED_FROM follows
  stats_.degraded = true;
  log("warn", "cannot watch directory", {{"path", dir}, {"error", std::strerror(-wd)}});
  return std::nullopt;
}

void ActionBuilder::scan_directory(const std::string& dir, ScanMode mode, Timestamp now,
                                   std::vector<std::string>& stack) {
  if (ignored(dir)) return;
  // Watch first, then list: anything created after the watch is a record, anything before
  // it is in the listing, and the duplicates are dropped by the check of what is known.
  WatchTable::Ref dir_ref = table_.ref(dir);
  if (dir_ref == WatchTable::kNoRef || !table_.watched(dir_ref)) {
    const auto watched = note_watch(dir, fs_.add_watch(dir));
    if (!watched) return;
    dir_ref = *watched;
  }
  // A whole-filesystem mark saw everything created in a new directory: nothing to catch up.
  if (mode == ScanMode::kNewDirectory && whole_fs()) return;
  if (mode == ScanMode::kRootAppeared) mode = ScanMode::kNewDirectory;
  count_directory();
  add_listing(dir, dir_ref, fs_.list_stat(dir), mode, now, &stack);
}

void ActionBuilder::add_listing(const std::string& dir, WatchTable::Ref dir_ref,
                                const std::vector<DirEntry>& entries, ScanMode mode,
                                Timestamp now, std::vector<std::string>* stack) {
  std::vector<std::string> subdirs;
  // What is known beneath `dir` is asked of its node: nothing below frees nodes.
  const auto is_known = [&](const std::string& path, const std::string& name) {
    return dir_ref != WatchTable::kNoRef ? table_.child_known(dir_ref, name)
                                         : table_.is_known(path);
  };
  const auto set_known = [&](const std::string& path, const std::string& name, Entry entry) {
    if (dir_ref != WatchTable::kNoRef) {
      table_.set_known_child(dir_ref, name, entry);
    } else {
      table_.set_known(path, entry);
    }
  };
  // The start walk and the background index record the permissions they find (those found
  // later are recorded as their create is pushed).
  const bool permissions = mode == ScanMode::kInitial && !permission_roots_.empty() &&
                           permission_root_of(permission_roots_, dir + "/") != nullptr;
  for (const DirEntry& found : entries) {
    const std::string path = dir == "/" ? "/" + found.name : dir + "/" + found.name;
    if (ignored(path)) continue;
    if (is_known(path, found.name) || pending_.has_write(path)) continue;
    std::optional<Permissions> perms;
    if (permissions) perms = note_permissions(path);
    const FileInfo* info = &found.info;
    if (mode == ScanMode::kInitial && start_scan_.snapshot) {
      // With the permissions just read: the catch-up compares them with the stored ones.
      IndexEntry entry{object_type_of(info->kind), meta_of(*info, now.wall)};
      if (perms) set_permissions(entry.meta, *perms);
      start_scan_.snapshot->add(path, entry);
    }
    if (start_scan_.progress) {
      start_scan_.progress->entries.fetch_add(1, std::memory_order_relaxed);
    }
    if (info->kind == FileKind::kDirectory) {
      if (mode != ScanMode::kInitial) {
        emit(Action::kCreate, path, "", ObjectType::kDirectory, info->uid, now.wall, actor_);
      }
      set_known(path, found.name,
                Entry{FileKind::kDirectory, info->uid, mode == ScanMode::kInitial});
      if (stack) subdirs.push_back(path);  // a shared walk pushes its own
      continue;
    }
    if (mode == ScanMode::kNewDirectory) {
      // Its writer may still hold it open, opened before our watch: settle, and keep
      // settling while it grows.
      PendingWrite write;
      write.temp = is_temp_name(path, options_.roots);
      write.from_scan = true;
      write.closed = write.temp;
      write.at = now.wall;
      write.first_seq = seq_;
      write.size_seen = info->size;
      write.actor = actor_;
      PendingWrite& pending = pending_.put_write(path, write);
      if (!pending.temp) pending_.schedule_write(path, pending, now.mono + options_.settle);
      continue;
    }
    if (mode == ScanMode::kMovedIn) {
      emit(Action::kCreate, path, "", ObjectType::kFile, info->uid, now.wall, actor_);
    }
    set_known(path, found.name, Entry::of(*info, mode == ScanMode::kInitial));
  }
  // Depth first, in name order: parents are reported before their children.
  if (stack) stack->insert(stack->end(), subdirs.rbegin(), subdirs.rend());
}

void ActionBuilder::forget_tree(const std::string& dir, Timestamp now, bool report,
                                uint64_t slot, const Actor& actor) {
  for (const std::string& path : pending_.reads_within(dir)) {
    const PendingRead read = *pending_.take_read(path);
    emit(Action::kRead, path, "", ObjectType::kFile, table_.known_or(path, Entry{}).uid, read.at,
         read.actor, slot);
  }
  for (const std::string& path : pending_.writes_within(dir)) flush_write_now(path, now);
  // Deepest first: a child sorts after its parent, so walk the keys backwards.
  const std::vector<std::string> known = table_.known_within(dir);
  for (auto it = known.rbegin(); it != known.rend(); ++it) {
    const Entry entry = *table_.known(*it);
    if (report) {
      emit(Action::kDestroy, *it, "", object_type(entry.kind), entry.uid, now.wall, actor, slot);
    }
    table_.forget(*it);
  }
  for (const std::string& path : keys_within(open_counts_, dir)) open_counts_.erase(path);
  for (const int wd : table_.watches_within(dir)) {
    fs_.remove_watch(wd);
    table_.remove(wd);
  }
}

void ActionBuilder::rebase_tree(const std::string& from, const std::string& to) {
  // The watches keep their wds (MOVE_SELF carries no new name): rewrite every path beneath.
  // What is known moves with them, in the same tree.
  table_.rebase(from, to);
  pending_.rebase(from, to);  // their deadlines too
  rebase_keys(open_counts_, from, to);
  copies_.rebase(from, to);
  for (std::string& dir : index_stack_) {
    if (path_is_within(dir, from)) dir = rebase_path(dir, from, to);
  }
}

void ActionBuilder::recheck_missing_roots(Timestamp now) {
  if (!root_recheck_ || now.mono < *root_recheck_) return;
  root_recheck_.reset();
  for (auto it = missing_roots_.begin(); it != missing_roots_.end();) {
    const std::string root = *it;
    const auto info = fs_.stat(root);
    if (!info || info->kind != FileKind::kDirectory) {
      ++it;
      continue;
    }
    it = missing_roots_.erase(it);
    log("info", "watched folder appeared; watching it", {{"path", root}});
    emit(Action::kCreate, root, "", ObjectType::kDirectory, info->uid, now.wall, actor_);
    table_.set_known(root, Entry{FileKind::kDirectory, info->uid});
    watch_tree(root, ScanMode::kRootAppeared, now);
  }
  if (!missing_roots_.empty()) root_recheck_ = now.mono + kRootRecheck;
  report_watch_failures();
}

void ActionBuilder::report_watch_failures() {
  if (watch_failures_ == 0) return;
  stats_.degraded = true;
  const uint64_t limit = fs_.max_user_watches();
  const uint64_t needed = table_.size() + watch_failures_;
  nlohmann::json fields = {{"unwatched_directories", watch_failures_},
                           {"watches_in_use", table_.size()},
                           {"watches_needed", needed},
                           {"max_user_watches", limit}};
  if (!enospc_logged_) {
    enospc_logged_ = true;
    const uint64_t suggested = std::max<uint64_t>(limit, needed) + watch_failures_ * 2;
    log("error",
        "inotify watch limit reached: " + std::to_string(watch_failures_) +
            " directories are not watched (this agent needs " + std::to_string(needed) +
            " watches; fs.inotify.max_user_watches = " + std::to_string(limit) +
            "); raise it, e.g. sysctl -w fs.inotify.max_user_watches=" + std::to_string(suggested),
        fields);
  } else {
    log("debug", "more directories not watched: inotify watch limit", fields);
  }
  watch_failures_ = 0;
}

bool ActionBuilder::is_top_root(const std::string& dir) const {
  return std::find(top_roots_.begin(), top_roots_.end(), dir) != top_roots_.end();
}

}  // namespace folderhook::watch
