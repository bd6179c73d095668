// Index: subtree edits, the catch-up diff, and the scan.
#include "watch/index.h"

#include <algorithm>

#include "watch/watch_table.h"

namespace folderhook::watch {
namespace {

using InodeKey = std::pair<uint64_t, uint64_t>;  // dev, ino

// The keys at or beneath `path`: [path], then the range [path + "/", path + "0") ('0' follows
// '/'), which holds exactly the paths that start with path + "/".
template <typename Fn>
void for_each_within(const Index& index, const std::string& path, Fn&& fn) {
  if (auto it = index.find(path); it != index.end()) fn(it->first, it->second);
  const std::string lo = path == "/" ? "/" : path + "/";
  const std::string hi = path == "/" ? "0" : path + "0";
  for (auto it = index.lower_bound(lo); it != index.end() && it->first < hi; ++it) {
    if (it->first != path) fn(it->first, it->second);
  }
}

std::vector<std::string> paths_within(const Index& index, const std::string& path) {
  std::vector<std::string> out;
  for_each_within(index, path, [&](const std::string& p, const IndexEntry&) { out.push_back(p); });
  return out;
}

FileAction make_action(Action action, const std::string& path, const std::string& destination,
                       const IndexEntry& entry, std::chrono::system_clock::time_point at) {
  FileAction out;
  out.action = action;
  out.path = path;
  out.destination = destination;
  out.at = at;
  out.type = entry.type;
  out.meta = entry.meta;
  out.catch_up = true;
  return out;
}

bool within_any(const std::string& path, const std::vector<std::string>& dirs) {
  return std::any_of(dirs.begin(), dirs.end(),
                     [&](const std::string& dir) { return path_is_within(path, dir); });
}

// The entry a scan records for `path`: with its permissions when it lies in a folder that asks
// for them (their one ACL read per object is the whole cost, and only there).
IndexEntry scanned_entry(FileSystem& fs, const std::string& path, const FileInfo& info,
                         std::chrono::system_clock::time_point started,
                         const std::vector<std::string>& permission_roots) {
  IndexEntry entry{object_type_of(info.kind), meta_of(info, started)};
  if (permission_roots.empty()) return entry;
  if (const std::string* root = permission_root_of(permission_roots, path)) {
    if (const auto perms = fs.permissions(*root, path)) set_permissions(entry.meta, *perms);
  }
  return entry;
}

}  // namespace

ObjectType object_type_of(FileKind kind) {
  return kind == FileKind::kDirectory ? ObjectType::kDirectory : ObjectType::kFile;
}

FileMeta meta_of(const FileInfo& info, std::chrono::system_clock::time_point now) {
  FileMeta meta;
  meta.dev = info.dev;
  meta.ino = info.ino;
  meta.size = info.size;
  meta.mtime_ns = info.mtime_ns;
  meta.ctime_ns = info.ctime_ns;
  meta.uid = info.uid;
  if (info.kind == FileKind::kDirectory) {
    const int64_t now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    const int64_t trusted_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(kTrustedAge).count();
    if (info.ctime_ns > now_ns - trusted_ns) meta.ctime_ns = 0;
  }
  return meta;
}

void set_permissions(FileMeta& meta, const Permissions& perms) {
  meta.permissions = true;
  meta.uid = perms.uid;
  meta.mode = perms.mode;
  meta.gid = perms.gid;
  meta.acl = perms.acl;
}

std::optional<Permissions> permissions_of(const FileMeta& meta) {
  if (!meta.permissions) return std::nullopt;
  return Permissions{meta.mode, meta.uid, meta.gid, meta.acl};
}

void erase_tree(Index& index, const std::string& path) {
  for (const std::string& p : paths_within(index, path)) index.erase(p);
}

void move_tree(Index& index, const std::string& from, const std::string& to) {
  if (from == to) return;
  std::vector<std::pair<std::string, IndexEntry>> moved;
  for_each_within(index, from, [&](const std::string& p, const IndexEntry& e) {
    moved.emplace_back(rebase_path(p, from, to), e);
  });
  erase_tree(index, from);
  erase_tree(index, to);
  for (auto& [p, e] : moved) index[p] = e;
}

CatchUp diff_index(const Index& before, const Index& now,
                   std::chrono::system_clock::time_point at) {
  CatchUp out;
  Index work = before;
  std::map<InodeKey, std::string> work_inodes;
  for (const auto& [path, entry] : work) {
    if (entry.meta.ino != 0) work_inodes[{entry.meta.dev, entry.meta.ino}] = path;
  }
  const auto key_of = [](const IndexEntry& e) { return InodeKey{e.meta.dev, e.meta.ino}; };

  // Where the object now at `to` was before, when that is a move.
  const auto move_source = [&](const std::string& to) -> std::optional<std::string> {
    const IndexEntry& target = now.at(to);
    if (target.meta.ino == 0) return std::nullopt;
    const auto found = work_inodes.find(key_of(target));
    if (found == work_inodes.end() || found->second == to) return std::nullopt;
    const std::string& from = found->second;
    const IndexEntry& source = work.at(from);
    if (source.type != target.type || path_is_within(to, from)) return std::nullopt;
    // Otherwise a recycled inode (rm -rf d; mkdir e may give e the inode of d): a rename keeps
    // the mtime of what it moves, a directory's included.
    if (source.meta.size != target.meta.size || source.meta.mtime_ns != target.meta.mtime_ns) {
      return std::nullopt;
    }
    // Still there too: a hard link was added, nothing moved.
    if (auto still = now.find(from); still != now.end() && key_of(still->second) == key_of(target)) {
      return std::nullopt;
    }
    return from;
  };
  // True when `to` holds, before the move, an object that itself moves elsewhere: move that
  // one first (mv b c; mv a b) so that it is not lost under the other.
  const auto holds_mover = [&](const std::string& to) {
    const auto occupant = work.find(to);
    if (occupant == work.end() || occupant->second.meta.ino == 0) return false;
    const InodeKey key = key_of(occupant->second);
    if (key == key_of(now.at(to))) return false;
    return std::any_of(now.begin(), now.end(), [&](const auto& n) {
      return n.first != to && key_of(n.second) == key;
    });
  };
  const auto do_move = [&](const std::string& from, const std::string& to) {
    out.actions.push_back(make_action(Action::kMove, from, to, now.at(to), at));
    for_each_within(work, to, [&](const std::string&, const IndexEntry& e) {
      if (e.meta.ino != 0) work_inodes.erase(key_of(e));
    });
    move_tree(work, from, to);
    work[to] = now.at(to);
    for_each_within(work, to, [&](const std::string& p, const IndexEntry& e) {
      if (e.meta.ino != 0) work_inodes[key_of(e)] = p;
    });
  };

  // Moves, parents first (a moved directory's contents then sit where the scan found them).
  std::vector<std::string> pending;
  for (const auto& [path, entry] : now) {
    if (move_source(path)) pending.push_back(path);
  }
  bool force = false;
  while (!pending.empty()) {
    std::vector<std::string> later;
    bool progress = false;
    for (const std::string& to : pending) {
      const auto from = move_source(to);
      if (!from) continue;
      if (!force && holds_mover(to)) {
        later.push_back(to);
        continue;
      }
      do_move(*from, to);
      progress = true;
    }
    force = !progress;  // a cycle (a swap): break it, the rest becomes destroy and create
    pending = std::move(later);
  }

  // Destroys, deepest first; an object that changed type is destroyed and created again.
  std::vector<std::string> gone;
  for (auto it = work.rbegin(); it != work.rend(); ++it) {
    const auto found = now.find(it->first);
    if (found == now.end() || found->second.type != it->second.type) {
      out.actions.push_back(make_action(Action::kDestroy, it->first, "", it->second, at));
      gone.push_back(it->first);
    }
  }
  for (const std::string& path : gone) work.erase(path);

  // Creates, parents first, and updates: of the content, then of the permissions.
  for (const auto& [path, entry] : now) {
    const auto found = work.find(path);
    if (found == work.end()) {
      out.actions.push_back(make_action(Action::kCreate, path, "", entry, at));
      continue;
    }
    const IndexEntry& was = found->second;
    const bool same_object = key_of(was) == key_of(entry);
    bool reported = false;
    if (entry.type == ObjectType::kFile &&
        (was.meta.size != entry.meta.size || was.meta.mtime_ns != entry.meta.mtime_ns ||
         !same_object)) {
      out.actions.push_back(make_action(Action::kUpdate, path, "", entry, at));
      reported = true;
    }
    // Only against values recorded for a folder that asked: unknown ones are only recorded.
    const auto before_perms = permissions_of(was.meta);
    const auto now_perms = permissions_of(entry.meta);
    if (same_object && entry.type == was.type && before_perms && now_perms &&
        *before_perms != *now_perms) {
      FileAction change = make_action(Action::kUpdate, path, "", entry, at);
      change.permission = PermissionChange{now_perms->mode, "", ""};
      out.actions.push_back(std::move(change));
      reported = true;
    }
    if (!reported && was != entry) out.refreshed.emplace_back(path, entry);
  }
  return out;
}

CatchUp catch_up(Index before, Index now, const std::vector<std::string>& roots,
                 const std::set<std::string>& indexed, bool report_unindexed,
                 std::chrono::system_clock::time_point at) {
  Index known = std::move(before);
  std::vector<std::string> unindexed;
  for (const std::string& root : roots) {
    if (!indexed.count(root)) unindexed.push_back(root);
  }
  // Rows under a root never indexed are what a first start killed mid-walk left (its index is
  // stored in batches, the root marked indexed with the last): they tell nothing.
  std::erase_if(known, [&](const auto& kv) {
    return !within_any(kv.first, roots) || within_any(kv.first, unindexed);
  });
  const bool none_indexed = std::none_of(roots.begin(), roots.end(), [&](const std::string& r) {
    return indexed.count(r) != 0;
  });
  if (known.empty() && none_indexed && !report_unindexed) {
    // Every root seen for the first time, nothing known of them: the scan is only recorded.
    // This is what the diff below would find (no action, every entry recorded), without
    // copying the scan twice more; the entries move out of `now`.
    CatchUp out;
    out.refreshed.reserve(now.size());
    for (const std::string& root : roots) {
      const std::string lo = root == "/" ? "/" : root + "/";
      const std::string hi = root == "/" ? "0" : root + "0";
      if (auto it = now.find(root); it != now.end()) {
        out.refreshed.emplace_back(root, it->second);
      }
      for (auto it = now.lower_bound(lo); it != now.end() && it->first < hi;) {
        auto node = now.extract(it++);
        if (node.key() != root) out.refreshed.emplace_back(std::move(node.key()), node.mapped());
      }
    }
    return out;
  }
  std::vector<std::pair<std::string, IndexEntry>> recorded;
  for (const std::string& root : roots) {
    if (indexed.count(root)) continue;
    // A folder never indexed: what is in it now is the starting point, not news; asked to
    // report it, everything in it is news, but the folder itself is not.
    for_each_within(now, root, [&](const std::string& p, const IndexEntry& e) {
      if (report_unindexed && p != root) return;
      known[p] = e;
      recorded.emplace_back(p, e);
    });
  }
  CatchUp out = diff_index(known, now, at);
  out.refreshed.insert(out.refreshed.begin(), recorded.begin(), recorded.end());
  return out;
}

void ScanLog::add(std::string_view path, const IndexEntry& entry) {
  if (limit_ != 0 && records_.empty()) {
    // Reserved once per batch: no doubling beyond the limit, nothing left over after it.
    records_.reserve(limit_);
  }
  records_.push_back({paths_.size(), path.size(), entry});
  paths_.append(path);
  if (limit_ != 0 && records_.size() >= limit_ && full_) full_(take());
}

ScanLog ScanLog::take() {
  ScanLog out;
  out.paths_ = std::exchange(paths_, std::string());
  out.records_ = std::exchange(records_, std::vector<Record>());
  return out;
}

Index ScanLog::take_index() {
  Index index;
  for (const Record& r : records_) {
    index.insert_or_assign(std::string(paths_, r.offset, r.length), r.entry);
  }
  paths_ = std::string();
  records_ = std::vector<Record>();
  return index;
}

std::optional<Index> scan_tree(FileSystem& fs, const std::vector<std::string>& roots,
                               const std::vector<std::string>& ignore, const Index& previous,
                               std::chrono::system_clock::time_point started,
                               ScanProgress& progress, const std::atomic<bool>& cancel,
                               const std::vector<std::string>& permission_roots) {
  Index out;
  for (const std::string& root : roots) {
    if (within_any(root, ignore)) continue;
    const auto info = fs.stat(root);
    if (!info || info->kind != FileKind::kDirectory) continue;  // missing: nothing in it
    out[root] = scanned_entry(fs, root, *info, started, permission_roots);
    std::vector<std::string> stack{root};
    while (!stack.empty()) {
      if (cancel.load(std::memory_order_relaxed)) return std::nullopt;
      const std::string dir = std::move(stack.back());
      stack.pop_back();
      if (progress.directories.fetch_add(1, std::memory_order_relaxed) % kSiftEvery ==
          kSiftEvery - 1) {
        fs.sift_queue();  // our own listings must not fill the kernel queue (file_system.h)
      }
      const IndexEntry& here = out.at(dir);
      std::vector<DirEntry> listed;
      std::vector<std::string> names;
      const auto known = previous.find(dir);
      if (known != previous.end() && known->second.type == ObjectType::kDirectory &&
          known->second.meta.ctime_ns != 0 && here.meta.ctime_ns != 0 &&
          known->second.meta == here.meta) {
        // Unchanged since a scan that could trust it: the same entries. Walk the previous
        // index's direct children of `dir`, jumping over each child's own subtree.
        progress.listings_skipped.fetch_add(1, std::memory_order_relaxed);
        const std::string prefix = dir == "/" ? "/" : dir + "/";
        auto it = previous.lower_bound(prefix);
        while (it != previous.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
          const std::string rest = it->first.substr(prefix.size());
          const auto slash = rest.find('/');
          if (slash == std::string::npos) {
            names.push_back(rest);
            ++it;
          } else {
            it = previous.lower_bound(prefix + rest.substr(0, slash) + "0");
          }
        }
        for (std::string& name : names) {
          const std::string path = dir == "/" ? "/" + name : dir + "/" + name;
          if (within_any(path, ignore)) continue;
          if (auto child = fs.stat(path)) listed.push_back({std::move(name), *child});
        }
      } else {
        listed = fs.list_stat(dir);  // gone since the listing: not there
      }
      std::vector<std::string> subdirs;
      for (const DirEntry& child : listed) {
        const std::string path = dir == "/" ? "/" + child.name : dir + "/" + child.name;
        if (within_any(path, ignore)) continue;
        progress.entries.fetch_add(1, std::memory_order_relaxed);
        out.emplace_hint(out.end(), path,
                         scanned_entry(fs, path, child.info, started, permission_roots));
        if (child.info.kind == FileKind::kDirectory) subdirs.push_back(path);
      }
      stack.insert(stack.end(), subdirs.rbegin(), subdirs.rend());
    }
  }
  return out;
}

bool record_tree(FileSystem& fs, const std::vector<std::string>& roots,
                 const std::vector<std::string>& ignore, std::chrono::system_clock::time_point started,
                 ScanProgress& progress, const std::atomic<bool>& cancel, ScanLog& log,
                 std::vector<std::string>& dirs,
                 const std::vector<std::string>& permission_roots) {
  for (const std::string& root : roots) {
    if (within_any(root, ignore)) continue;
    const auto info = fs.stat(root);
    if (!info || info->kind != FileKind::kDirectory) continue;  // missing: nothing in it
    log.add(root, scanned_entry(fs, root, *info, started, permission_roots));
    dirs.push_back(root);
    std::vector<std::string> stack{root};
    while (!stack.empty()) {
      if (cancel.load(std::memory_order_relaxed)) return false;
      const std::string dir = std::move(stack.back());
      stack.pop_back();
      if (progress.directories.fetch_add(1, std::memory_order_relaxed) % kSiftEvery ==
          kSiftEvery - 1) {
        fs.sift_queue();
      }
      const size_t first_subdir = stack.size();
      for (const DirEntry& child : fs.list_stat(dir)) {
        const std::string path = dir == "/" ? "/" + child.name : dir + "/" + child.name;
        if (within_any(path, ignore)) continue;
        progress.entries.fetch_add(1, std::memory_order_relaxed);
        log.add(path, scanned_entry(fs, path, child.info, started, permission_roots));
        if (child.info.kind != FileKind::kDirectory) continue;
        dirs.push_back(path);
        stack.push_back(path);
      }
      std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(first_subdir), stack.end());
    }
  }
  return true;
}

}  // namespace folderhook::watch
