// WatchTable: the two-way map between inotify watch descriptors and the directory paths they
// watch. Pure bookkeeping, no system calls: the caller adds and removes the kernel watches.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::watch {

// True when `path` is `dir` or lies beneath it.
bool path_is_within(std::string_view path, std::string_view dir);
// `path` with its leading `from` replaced by `to`; `path` must be within `from`.
std::string rebase_path(std::string_view path, std::string_view from, std::string_view to);

class WatchTable {
 public:
  // Records that `wd` watches `dir`. The kernel returns the same wd for the same inode, so a
  // second add of one wd replaces its path.
  void add(int wd, const std::string& dir);
  void remove(int wd);
  std::optional<std::string> path_of(int wd) const;
  std::optional<int> wd_of(const std::string& dir) const;
  // A directory moved: every watch at or beneath `from` now lives beneath `to`. The wds stay.
  void rebase(const std::string& from, const std::string& to);
  // The wds at or beneath `dir`, deepest path first.
  std::vector<int> watches_within(const std::string& dir) const;
  std::size_t size() const { return by_wd_.size(); }

 private:
  std::map<int, std::string> by_wd_;
  std::map<std::string, int> by_path_;
};

}  // namespace folderhook::watch
