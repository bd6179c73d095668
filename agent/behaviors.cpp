#include "agent/behaviors.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/router.h"
#include "delivery/state_dir.h"
#include "watch/glob.h"
#include "watch/watch_table.h"

namespace folderhook::agent {
namespace {

namespace fs = std::filesystem;

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool included(const Behavior& behavior, std::string_view relative) {
  if (behavior.include.empty()) return true;
  return std::any_of(behavior.include.begin(), behavior.include.end(),
                     [&](const std::string& glob) { return watch::glob_match(glob, relative); });
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

watch::FileAction robot_action(watch::Action kind, const std::string& path,
                               const std::string& destination, watch::ObjectType type,
                               const std::string& username) {
  watch::FileAction a;
  a.action = kind;
  a.path = path;
  a.destination = destination;
  a.type = type;
  a.username = username;
  a.at = std::chrono::system_clock::now();
  return a;
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
      ops.push_back({PlannedOp::Kind::kMove, e.path, behavior.to + "/" + relative});
    } else {
      ops.push_back({PlannedOp::Kind::kDelete, e.path, ""});
    }
    removed.insert(e.path);
  }
  std::sort(ops.begin(), ops.end(), [](const PlannedOp& a, const PlannedOp& b) { return a.path < b.path; });
  if (!behavior.remove_empty_dirs || removed.empty()) return ops;

  // A directory is removed only when everything in it is removed, and something beneath it
  // was removed by this behavior: an empty directory someone just made is left alone.
  std::map<std::string, std::vector<std::string>> children;
  std::vector<std::string> dirs;
  for (const ListedEntry& e : entries) {
    if (skipped(e.path)) continue;
    children[parent_of(e.path)].push_back(e.path);
    if (e.is_dir) dirs.push_back(e.path);
  }
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    const auto depth = [](const std::string& s) { return std::count(s.begin(), s.end(), '/'); };
    return depth(a) != depth(b) ? depth(a) > depth(b) : a < b;
  });
  std::set<std::string> touched;  // directories with something removed beneath them
  for (const std::string& path : removed) {
    for (std::string p = parent_of(path); p != folder.path && p.size() > folder.path.size(); p = parent_of(p)) {
      touched.insert(p);
    }
  }
  for (const std::string& dir : dirs) {
    if (!touched.contains(dir)) continue;
    if (!behavior.to.empty() && watch::path_is_within(behavior.to, dir)) continue;
    const auto& inside = children[dir];
    const bool empties = std::all_of(inside.begin(), inside.end(),
                                     [&](const std::string& c) { return removed.contains(c); });
    if (empties) {
      ops.push_back({PlannedOp::Kind::kRemoveDir, dir, ""});
      removed.insert(dir);
    }
  }
  return ops;
}

std::vector<ListedEntry> list_tree(const std::string& root, std::vector<std::string>& errors) {
  std::vector<ListedEntry> out;
  std::vector<std::string> pending{root};
  while (!pending.empty()) {
    const std::string dir = pending.back();
    pending.pop_back();
    std::error_code ec;
    fs::directory_iterator it(dir, fs::directory_options::none, ec);
    if (ec) {
      errors.push_back("cannot list '" + dir + "': " + ec.message());
      continue;
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      const std::string path = it->path().string();
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile
      const bool is_dir = S_ISDIR(st.st_mode);
      out.push_back({path, is_dir, static_cast<int64_t>(st.st_mtim.tv_sec)});
      if (is_dir) pending.push_back(path);
    }
    if (ec) errors.push_back("cannot finish listing '" + dir + "': " + ec.message());
  }
  return out;
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

std::vector<BehaviorRun> run_behaviors(const std::vector<FolderRule>& folders,
                                       const std::string& robot_username, RobotLedger& ledger,
                                       std::vector<watch::FileAction>& done) {
  using watch::Action;
  using watch::ObjectType;
  std::vector<BehaviorRun> runs;
  for (const FolderRule& folder : folders) {
    for (size_t i = 0; i < folder.behaviors.size(); ++i) {
      const Behavior& behavior = folder.behaviors[i];
      BehaviorRun run{folder.path, i, behavior.kind, 0, 0, {}};
      const auto entries = list_tree(folder.path, run.errors);
      for (const PlannedOp& op :
           plan_behavior(folder, behavior, entries, std::chrono::system_clock::now())) {
        switch (op.kind) {
          case PlannedOp::Kind::kDelete:
            ledger.expect(Action::kDestroy, op.path);
            if (::unlink(op.path.c_str()) == 0) {
              done.push_back(robot_action(Action::kDestroy, op.path, "", ObjectType::kFile, robot_username));
              ++run.acted;
            } else {
              const int err = errno;
              ledger.forget(Action::kDestroy, op.path);
              if (err != ENOENT) {
                run.errors.push_back("cannot delete '" + op.path + "': " + std::strerror(err) +
                                     " (tried again at the next run)");
              }
            }
            break;
          case PlannedOp::Kind::kMove: {
            // Create the destination's missing directories, each reported as a robot create.
            std::vector<std::string> missing;
            for (std::string p = parent_of(op.destination); !p.empty() && p != "/"; p = parent_of(p)) {
              struct stat st {};
              if (::lstat(p.c_str(), &st) == 0) break;
              missing.push_back(p);
            }
            bool ready = true;
            for (auto it = missing.rbegin(); it != missing.rend() && ready; ++it) {
              ledger.expect(Action::kCreate, *it);
              if (::mkdir(it->c_str(), 0755) == 0) {
                done.push_back(robot_action(Action::kCreate, *it, "", ObjectType::kDirectory, robot_username));
              } else if (errno != EEXIST) {
                ledger.forget(Action::kCreate, *it);
                run.errors.push_back("cannot create '" + *it + "': " + std::strerror(errno));
                ready = false;
              } else {
                ledger.forget(Action::kCreate, *it);
              }
            }
            if (!ready) break;
            struct stat st {};
            if (::lstat(op.destination.c_str(), &st) == 0) {
              run.errors.push_back("not moving '" + op.path + "': '" + op.destination +
                                   "' already exists");
              break;
            }
            ledger.expect(Action::kMove, op.path, op.destination);
            if (::rename(op.path.c_str(), op.destination.c_str()) == 0) {
              done.push_back(robot_action(Action::kMove, op.path, op.destination, ObjectType::kFile, robot_username));
              ++run.acted;
            } else {
              const int err = errno;
              ledger.forget(Action::kMove, op.path, op.destination);
              if (err != ENOENT) {
                run.errors.push_back("cannot move '" + op.path + "' to '" + op.destination +
                                     "': " + std::strerror(err) + " (tried again at the next run)");
              }
            }
            break;
          }
          case PlannedOp::Kind::kRemoveDir:
            ledger.expect(Action::kDestroy, op.path);
            if (::rmdir(op.path.c_str()) == 0) {
              done.push_back(robot_action(Action::kDestroy, op.path, "", ObjectType::kDirectory, robot_username));
            } else {
              // Something new arrived in it, or a delete above failed: it is left alone.
              ledger.forget(Action::kDestroy, op.path);
            }
            break;
        }
      }
      run.finished_ms = now_ms();
      runs.push_back(std::move(run));
    }
  }
  return runs;
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
