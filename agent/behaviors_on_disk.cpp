// The part of the folder behaviors that touches the disk (behaviors.h): listing a folder and
// doing what plan_behavior() decided, every step beneath the folder (beneath.h). The folder is
// one that untrusted users write into: a directory listed a moment ago may be a symlink by the
// time it is acted on, so nothing here is done by path.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "agent/behaviors.h"
#include "agent/wall_clock.h"
#include "agent/router.h"
#include "watch/paths.h"

namespace folderhook::agent {
namespace {

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

std::string parent_of(const std::string& relative) {
  const auto slash = relative.rfind('/');
  return slash == std::string::npos ? "" : relative.substr(0, slash);
}

std::string name_of(const std::string& relative) {
  const auto slash = relative.rfind('/');
  return slash == std::string::npos ? relative : relative.substr(slash + 1);
}

std::vector<ListedEntry> list_beneath(int root, const std::string& prefix,
                                      std::vector<std::string>& errors) {
  std::vector<ListedEntry> out;
  std::vector<std::string> pending{""};  // relative to root
  while (!pending.empty()) {
    const std::string relative = pending.back();
    pending.pop_back();
    const std::string shown = relative.empty() ? prefix : prefix + "/" + relative;
    Fd dir;
    // A directory swapped for a symlink since it was listed is refused here (ELOOP).
    const int err = relative.empty() ? dup_fd(root, dir)
                                     : open_beneath(root, relative, O_RDONLY | O_DIRECTORY, dir);
    if (err == ENOENT) continue;  // gone meanwhile
    DIR* stream = err ? nullptr : ::fdopendir(dir.get());
    if (!stream) {
      errors.push_back("cannot list '" + shown + "': " + describe(err ? err : errno));
      continue;
    }
    const int fd = dir.release();  // the stream's now
    errno = 0;
    while (const dirent* entry = ::readdir(stream)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (stat_at(fd, name, st) != 0) continue;  // gone meanwhile
      const std::string child = relative.empty() ? name : relative + "/" + name;
      const bool is_dir = S_ISDIR(st.st_mode);
      out.push_back(
          {prefix + "/" + child, is_dir, static_cast<int64_t>(st.st_mtim.tv_sec), id_of(st)});
      if (is_dir) pending.push_back(child);
    }
    if (errno != 0)
      errors.push_back("cannot finish listing '" + shown + "': " + std::strerror(errno));
    ::closedir(stream);
  }
  return out;
}

// One behavior's operations, acted on through descriptors of the folder (`root`) and of the
// outermost watched folder that holds a move_after's `to` (`to_base`).
class Executor {
 public:
  Executor(const FolderRule& folder, int root, const FolderRule* to_base, int to_root,
           const std::string& robot_username, RobotLedger& ledger,
           std::vector<watch::FileAction>& done, BehaviorRun& run)
      : folder_(folder),
        root_(root),
        to_base_(to_base),
        to_root_(to_root),
        username_(robot_username),
        ledger_(ledger),
        done_(done),
        run_(run) {}

  void delete_file(const PlannedOp& op);
  void move_file(const PlannedOp& op);
  void remove_dir(const PlannedOp& op);

 private:
  void report(watch::Action kind, const std::string& path, const std::string& destination,
              watch::ObjectType type) {
    done_.push_back(robot_action(kind, path, destination, type, username_));
  }

  const FolderRule& folder_;
  int root_;
  const FolderRule* to_base_;
  int to_root_;
  const std::string& username_;
  RobotLedger& ledger_;
  std::vector<watch::FileAction>& done_;
  BehaviorRun& run_;
};

void Executor::delete_file(const PlannedOp& op) {
  using watch::Action;
  Fd parent;
  std::string name;
  int err = open_parent_beneath(root_, relative_to_folder(folder_.path, op.path), parent, name);
  if (!err) {
    ledger_.expect(Action::kDestroy, op.path);
    err = unlink_checked(parent.get(), name, op.id, 0);
    if (err) ledger_.forget(Action::kDestroy, op.path);
  }
  if (!err) {
    report(Action::kDestroy, op.path, "", watch::ObjectType::kFile);
    ++run_.acted;
  } else if (err != ENOENT) {
    run_.errors.push_back("cannot delete '" + op.path + "': " + describe(err) +
                          " (tried again at the next run)");
  }
}

void Executor::move_file(const PlannedOp& op) {
  using watch::Action;
  if (!to_base_ || to_root_ < 0) {
    run_.errors.push_back("not moving '" + op.path + "': its destination folder cannot be opened");
    return;
  }
  Fd from;
  std::string name;
  if (const int err =
          open_parent_beneath(root_, relative_to_folder(folder_.path, op.path), from, name)) {
    if (err != ENOENT) {
      run_.errors.push_back("cannot move '" + op.path + "': " + describe(err) +
                            " (tried again at the next run)");
    }
    return;
  }
  // The destination's missing directories are made one by one beneath the watched folder that
  // holds `to`, each reported as a robot create.
  const std::string base = to_base_->path;
  const std::string destination = std::string(relative_to_folder(base, op.destination));
  std::vector<std::string> made;
  std::vector<std::string> tried;
  Fd to;
  const int made_err = make_dirs_beneath(to_root_, parent_of(destination), 0755, to, made,
                                         [&](const std::string& relative) {
                                           tried.push_back(base + "/" + relative);
                                           ledger_.expect(Action::kCreate, tried.back());
                                         });
  for (const std::string& path : tried) {
    const bool was_made = std::any_of(made.begin(), made.end(),
                                      [&](const std::string& m) { return base + "/" + m == path; });
    if (was_made) {
      report(Action::kCreate, path, "", watch::ObjectType::kDirectory);
    } else {
      ledger_.forget(Action::kCreate, path);
    }
  }
  if (made_err) {
    run_.errors.push_back("cannot create the directory of '" + op.destination +
                          "': " + describe(made_err));
    return;
  }
  ledger_.expect(Action::kMove, op.path, op.destination);
  const int err = rename_checked(from.get(), name, op.id, to.get(), name_of(destination));
  if (!err) {
    report(Action::kMove, op.path, op.destination, watch::ObjectType::kFile);
    ++run_.acted;
    return;
  }
  ledger_.forget(Action::kMove, op.path, op.destination);
  if (err == EEXIST) {
    run_.errors.push_back("not moving '" + op.path + "': '" + op.destination + "' already exists");
  } else if (err != ENOENT) {
    run_.errors.push_back("cannot move '" + op.path + "' to '" + op.destination +
                          "': " + describe(err) + " (tried again at the next run)");
  }
}

void Executor::remove_dir(const PlannedOp& op) {
  using watch::Action;
  Fd parent;
  std::string name;
  if (open_parent_beneath(root_, relative_to_folder(folder_.path, op.path), parent, name) != 0)
    return;
  ledger_.expect(Action::kDestroy, op.path);
  if (unlink_checked(parent.get(), name, op.id, AT_REMOVEDIR) == 0) {
    report(Action::kDestroy, op.path, "", watch::ObjectType::kDirectory);
  } else {
    // Something new arrived in it, a delete above failed, or it was replaced: left alone.
    ledger_.forget(Action::kDestroy, op.path);
  }
}

}  // namespace

std::vector<ListedEntry> list_tree(const std::string& root, std::vector<std::string>& errors) {
  Fd dir;
  if (const int err = open_root(root, dir)) {
    errors.push_back("cannot list '" + root + "': " + describe(err));
    return {};
  }
  return list_beneath(dir.get(), root, errors);
}

std::vector<BehaviorRun> run_behaviors(const std::vector<FolderRule>& folders,
                                       const std::string& robot_username, RobotLedger& ledger,
                                       std::vector<watch::FileAction>& done) {
  std::vector<BehaviorRun> runs;
  for (const FolderRule& folder : folders) {
    for (size_t i = 0; i < folder.behaviors.size(); ++i) {
      const Behavior& behavior = folder.behaviors[i];
      BehaviorRun run{folder.path, i, behavior.kind, 0, 0, {}};
      Fd root;
      if (const int err = open_root(folder.path, root)) {
        run.errors.push_back("cannot list '" + folder.path + "': " + describe(err));
      } else {
        const FolderRule* to_base =
            behavior.to.empty() ? nullptr : outermost_folder(folders, behavior.to);
        Fd to_root;
        if (to_base) {
          if (const int err = open_root(to_base->path, to_root)) {
            run.errors.push_back("cannot open '" + to_base->path + "': " + describe(err));
          }
        }
        Executor act(folder, root.get(), to_base, to_root.get(), robot_username, ledger, done, run);
        const auto entries = list_beneath(root.get(), folder.path, run.errors);
        for (const PlannedOp& op :
             plan_behavior(folder, behavior, entries, std::chrono::system_clock::now())) {
          switch (op.kind) {
            case PlannedOp::Kind::kDelete:
              act.delete_file(op);
              break;
            case PlannedOp::Kind::kMove:
              act.move_file(op);
              break;
            case PlannedOp::Kind::kRemoveDir:
              act.remove_dir(op);
              break;
          }
        }
      }
      run.finished_ms = now_ms();
      runs.push_back(std::move(run));
    }
  }
  return runs;
}

}  // namespace folderhook::agent
