#include "agent/behaviors.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/router.h"
#include "delivery/state_dir.h"
#include "watch/glob.h"
#include "watch/paths.h"

namespace folderhook::agent {
namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool included(const Behavior& behavior, std::string_view relative) {
  if (behavior.include.empty()) return true;
  return std::any_of(behavior.include.begin(), behavior.include.end(),
                     [&](const std::string& glob) { return watch::glob_match(glob, relative); });
}

}  // namespace

std::vector<PlannedOp> plan_behavior(const FolderRule& folder, const Behavior& behavior,
                                     const std::vector<ListedEntry>& entries,
                                     std::chrono::system_clock::time_point now) {
  const int64_t cutoff_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch() - behavior.after)
          .count();
  auto skipped = [&](const std::string& path) {
    return path == folder.path || !watch::path_is_within(path, folder.path) ||
           (!behavior.to.empty() && watch::path_is_within(path, behavior.to));
  };

  std::vector<PlannedOp> ops;
  std::set<std::string> removed;  // paths that will be gone from the folder
  for (const ListedEntry& e : entries) {
    if (e.is_dir || skipped(e.path) || e.mtime_s > cutoff_s) continue;
    const std::string relative = e.path.substr(folder.path.size() + 1);
    if (!included(behavior, relative)) continue;
    if (behavior.kind == "move_after") {
      ops.push_back({PlannedOp::Kind::kMove, e.path, behavior.to + "/" + relative, e.id});
    } else {
      ops.push_back({PlannedOp::Kind::kDelete, e.path, "", e.id});
    }
    removed.insert(e.path);
  }
  std::sort(ops.begin(), ops.end(), [](const PlannedOp& a, const PlannedOp& b) { return a.path < b.path; });
  if (!behavior.remove_empty_dirs || removed.empty()) return ops;

  // A directory is removed only when everything in it is removed, and something beneath it
  // was removed by this behavior: an empty directory someone just made is left alone.
  std::map<std::string, std::vector<std::string>> children;
  std::vector<const ListedEntry*> dirs;
  for (const ListedEntry& e : entries) {
    if (skipped(e.path)) continue;
    children[parent_of(e.path)].push_back(e.path);
    if (e.is_dir) dirs.push_back(&e);
  }
  std::sort(dirs.begin(), dirs.end(), [](const ListedEntry* x, const ListedEntry* y) {
    const std::string& a = x->path;
    const std::string& b = y->path;
    const auto depth = [](const std::string& s) { return std::count(s.begin(), s.end(), '/'); };
    return depth(a) != depth(b) ? depth(a) > depth(b) : a < b;
  });
  std::set<std::string> touched;  // directories with something removed beneath them
  for (const std::string& path : removed) {
    for (std::string p = parent_of(path); p != folder.path && p.size() > folder.path.size(); p = parent_of(p)) {
      touched.insert(p);
    }
  }
  for (const ListedEntry* entry : dirs) {
    const std::string& dir = entry->path;
    if (!touched.contains(dir)) continue;
    if (!behavior.to.empty() && watch::path_is_within(behavior.to, dir)) continue;
    const auto& inside = children[dir];
    const bool empties = std::all_of(inside.begin(), inside.end(),
                                     [&](const std::string& c) { return removed.contains(c); });
    if (empties) {
      ops.push_back({PlannedOp::Kind::kRemoveDir, dir, "", entry->id});
      removed.insert(dir);
    }
  }
  return ops;
}

void RobotLedger::expect(watch::Action action, const std::string& path,
                         const std::string& destination) {
  std::lock_guard lock(mutex_);
  if (disabled_) return;
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(expected_, [&](const auto& item) { return now - item.second > kExpiry; });
  expected_.emplace(Key{action, path, destination}, now);
  if (action == watch::Action::kMove) {
    expected_.emplace(Key{watch::Action::kDestroy, path, ""}, now);
    expected_.emplace(Key{watch::Action::kCreate, destination, ""}, now);
  }
}

void RobotLedger::forget(watch::Action action, const std::string& path,
                         const std::string& destination) {
  std::lock_guard lock(mutex_);
  auto erase_one = [this](const Key& key) {
    const auto it = expected_.find(key);
    if (it != expected_.end()) expected_.erase(it);
  };
  erase_one(Key{action, path, destination});
  if (action == watch::Action::kMove) {
    erase_one(Key{watch::Action::kDestroy, path, ""});
    erase_one(Key{watch::Action::kCreate, destination, ""});
  }
}

bool RobotLedger::claim(const watch::FileAction& action) {
  std::lock_guard lock(mutex_);
  const bool has_destination =
      action.action == watch::Action::kMove || action.action == watch::Action::kCopy;
  const auto it =
      expected_.find(Key{action.action, action.path, has_destination ? action.destination : ""});
  if (it == expected_.end()) return false;
  expected_.erase(it);
  // The other forms of the same robot move are used up with it: a move claimed leaves no
  // destroy/create to claim; a destroy(src) or create(dst) claimed means the move will not come.
  if (action.action == watch::Action::kMove) {
    for (const Key& other : {Key{watch::Action::kDestroy, action.path, ""},
                             Key{watch::Action::kCreate, action.destination, ""}}) {
      if (const auto o = expected_.find(other); o != expected_.end()) expected_.erase(o);
    }
  } else if (action.action == watch::Action::kDestroy || action.action == watch::Action::kCreate) {
    std::erase_if(expected_, [&](const auto& item) {
      const auto& [kind, from, to] = item.first;
      return kind == watch::Action::kMove &&
             (action.action == watch::Action::kDestroy ? from == action.path : to == action.path);
    });
  }
  return true;
}

nlohmann::json BehaviorRun::to_json() const {
  return {{"folder", folder}, {"behavior", index}, {"kind", kind},
          {"finished_ms", finished_ms}, {"acted", acted}, {"errors", errors}};
}

void save_behavior_runs(const std::string& state_dir, const std::vector<BehaviorRun>& runs) {
  nlohmann::json list = nlohmann::json::array();
  for (const BehaviorRun& run : runs) list.push_back(run.to_json());
  // The status file is advisory (the log already has every error): a failed write is ignored.
  std::string ignored;
  delivery::replace_private_file(
      state_dir + "/behaviors.json",
      nlohmann::json{{"runs", list}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      ignored);
}

nlohmann::json load_behavior_runs(const std::string& state_dir) {
  std::ifstream in(state_dir + "/behaviors.json");
  if (!in) return nlohmann::json::array();
  nlohmann::json data = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return data.is_object() && data.contains("runs") ? data["runs"] : nlohmann::json::array();
}

}  // namespace folderhook::agent
