// WatchTable: the two-way map between inotify watch descriptors and the directory paths they
// watch. Pure bookkeeping, no system calls: the caller adds and removes the kernel watches.
//
// Paths are absolute. They are kept as a tree of path components (each node its name and its
// parent), not as full strings twice over: a large tree costs a node per directory, a move is
// a re-link of one node, and path_of() spells the path out when asked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <deque>
#include <unordered_map>
#include <vector>

namespace folderhook::watch {

// True when `path` is `dir` or lies beneath it.
bool path_is_within(std::string_view path, std::string_view dir);
// `path` with its leading `from` replaced by `to`; `path` must be within `from`.
std::string rebase_path(std::string_view path, std::string_view from, std::string_view to);

class WatchTable {
 public:
  WatchTable();

  // Records that `wd` watches `dir`. The kernel returns the same wd for the same inode, so a
  // second add of one wd replaces its path; a wd already at `dir` is forgotten.
  void add(int wd, const std::string& dir);
  void remove(int wd);
  std::optional<std::string> path_of(int wd) const;
  std::optional<int> wd_of(const std::string& dir) const;
  // A directory moved: every watch at or beneath `from` now lives beneath `to`. The wds stay.
  void rebase(const std::string& from, const std::string& to);
  // The wds at or beneath `dir`, each before the wds of the directories above it.
  std::vector<int> watches_within(const std::string& dir) const;
  std::size_t size() const { return node_of_wd_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kRoot = 0;  // "/"
  struct Node {
    std::string name;
    uint32_t parent = kNone;
    int wd = -1;                     // -1: only on the way to watched directories
    std::vector<uint32_t> children;  // sorted by name
  };

  // The node of `path`; kNone when absent. `create` makes the missing nodes on the way.
  uint32_t find(std::string_view path) const;
  uint32_t find_or_create(std::string_view path);
  // The position in `parent`'s children where `name` is or would go.
  std::vector<uint32_t>::iterator child_slot(uint32_t parent, std::string_view name);
  uint32_t child(uint32_t parent, std::string_view name) const;
  uint32_t new_node(uint32_t parent, std::string_view name);
  void link(uint32_t node, uint32_t parent);
  void unlink(uint32_t node);
  // Frees `node` and its empty ancestors while they hold no watch and no children.
  void prune(uint32_t node);
  // Post-order: every node beneath `node`, then `node`.
  template <typename Fn>
  void for_each_below(uint32_t node, Fn&& fn) const;

  std::deque<Node> nodes_;  // a deque: growing never moves the nodes already there
  std::vector<uint32_t> free_;
  std::unordered_map<int, uint32_t> node_of_wd_;
};

}  // namespace folderhook::watch
