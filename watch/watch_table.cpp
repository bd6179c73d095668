#include "watch/watch_table.h"

#include <algorithm>

namespace folderhook::watch {
namespace {

// Calls fn(component) for each non-empty component of `path`; stops when fn returns false.
template <typename Fn>
bool each_component(std::string_view path, Fn&& fn) {
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start && !fn(path.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

bool path_is_within(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

std::string rebase_path(std::string_view path, std::string_view from, std::string_view to) {
  std::string out(to);
  out.append(path.substr(from.size()));
  return out;
}

WatchTable::WatchTable() { nodes_.emplace_back(); }

template <typename Fn>
void WatchTable::for_each_below(uint32_t node, Fn&& fn) const {
  // Iterative post-order (trees can be deeper than a stack likes), last child first.
  std::vector<std::pair<uint32_t, std::size_t>> stack{{node, nodes_[node].children.size()}};
  while (!stack.empty()) {
    auto& [current, left] = stack.back();
    if (left == 0) {
      const uint32_t done = current;
      stack.pop_back();
      fn(done);
      continue;
    }
    const uint32_t next = nodes_[current].children[--left];
    stack.emplace_back(next, nodes_[next].children.size());
  }
}

std::vector<uint32_t>::iterator WatchTable::child_slot(uint32_t parent, std::string_view name) {
  auto& children = nodes_[parent].children;
  return std::lower_bound(children.begin(), children.end(), name,
                          [&](uint32_t c, std::string_view n) { return nodes_[c].name < n; });
}

uint32_t WatchTable::child(uint32_t parent, std::string_view name) const {
  const auto& children = nodes_[parent].children;
  const auto it = std::lower_bound(
      children.begin(), children.end(), name,
      [&](uint32_t c, std::string_view n) { return nodes_[c].name < n; });
  return it != children.end() && nodes_[*it].name == name ? *it : kNone;
}

void WatchTable::link(uint32_t node, uint32_t parent) {
  nodes_[node].parent = parent;
  auto& children = nodes_[parent].children;
  // The walk adds a directory's subdirectories in name order: mostly an append.
  if (children.empty() || nodes_[children.back()].name < nodes_[node].name) {
    children.push_back(node);
  } else {
    children.insert(child_slot(parent, nodes_[node].name), node);
  }
}

void WatchTable::unlink(uint32_t node) {
  const uint32_t parent = nodes_[node].parent;
  if (parent == kNone) return;
  auto& children = nodes_[parent].children;
  const auto it = child_slot(parent, nodes_[node].name);
  if (it != children.end() && *it == node) children.erase(it);
  nodes_[node].parent = kNone;
}

uint32_t WatchTable::new_node(uint32_t parent, std::string_view name) {
  uint32_t node;
  if (!free_.empty()) {
    node = free_.back();
    free_.pop_back();
  } else {
    node = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[node].name.assign(name);
  nodes_[node].wd = -1;
  link(node, parent);
  return node;
}

void WatchTable::prune(uint32_t node) {
  while (node != kRoot && node != kNone && nodes_[node].wd < 0 && nodes_[node].children.empty()) {
    const uint32_t parent = nodes_[node].parent;
    unlink(node);
    Node& freed = nodes_[node];
    std::string().swap(freed.name);
    std::vector<uint32_t>().swap(freed.children);
    free_.push_back(node);
    node = parent;
  }
}

uint32_t WatchTable::find(std::string_view path) const {
  uint32_t node = kRoot;
  each_component(path, [&](std::string_view name) {
    node = child(node, name);
    return node != kNone;
  });
  return node;
}

uint32_t WatchTable::find_or_create(std::string_view path) {
  uint32_t node = kRoot;
  each_component(path, [&](std::string_view name) {
    const uint32_t next = child(node, name);
    node = next != kNone ? next : new_node(node, name);
    return true;
  });
  return node;
}

void WatchTable::add(int wd, const std::string& dir) {
  remove(wd);
  const uint32_t node = find_or_create(dir);
  if (nodes_[node].wd >= 0) node_of_wd_.erase(nodes_[node].wd);
  nodes_[node].wd = wd;
  node_of_wd_[wd] = node;
}

void WatchTable::remove(int wd) {
  const auto it = node_of_wd_.find(wd);
  if (it == node_of_wd_.end()) return;
  const uint32_t node = it->second;
  node_of_wd_.erase(it);
  nodes_[node].wd = -1;
  prune(node);
}

std::optional<std::string> WatchTable::path_of(int wd) const {
  const auto it = node_of_wd_.find(wd);
  if (it == node_of_wd_.end()) return std::nullopt;
  if (it->second == kRoot) return "/";
  std::size_t size = 0;
  for (uint32_t n = it->second; n != kRoot; n = nodes_[n].parent) size += 1 + nodes_[n].name.size();
  std::string path(size, '/');
  for (uint32_t n = it->second; n != kRoot; n = nodes_[n].parent) {
    const std::string& name = nodes_[n].name;
    size -= name.size();
    path.replace(size, name.size(), name);
    --size;  // the '/' before it, already there
  }
  return path;
}

std::optional<int> WatchTable::wd_of(const std::string& dir) const {
  const uint32_t node = find(dir);
  if (node == kNone || nodes_[node].wd < 0) return std::nullopt;
  return nodes_[node].wd;
}

void WatchTable::rebase(const std::string& from, const std::string& to) {
  if (from == to) return;
  const uint32_t moved = find(from);
  if (moved == kNone) return;
  const auto slash = to.rfind('/');
  const std::string_view name = slash == std::string::npos ? to : std::string_view(to).substr(slash + 1);
  if (moved != kRoot && find(to) == kNone && !name.empty() && !path_is_within(to, from)) {
    // The usual rename onto a new name: re-link the one node, everything beneath follows.
    const uint32_t old_parent = nodes_[moved].parent;
    const uint32_t new_parent =
        find_or_create(slash == std::string::npos ? std::string_view() : std::string_view(to).substr(0, slash));
    unlink(moved);
    nodes_[moved].name.assign(name);
    link(moved, new_parent);
    prune(old_parent);
    return;
  }
  // Onto a path the table already knows: move the watches one by one.
  std::vector<std::pair<int, std::string>> watches;
  for_each_below(moved, [&](uint32_t n) {
    if (nodes_[n].wd >= 0) {
      const int wd = nodes_[n].wd;
      watches.emplace_back(wd, rebase_path(*path_of(wd), from, to));
    }
  });
  for (const auto& [wd, path] : watches) add(wd, path);
}

std::vector<int> WatchTable::watches_within(const std::string& dir) const {
  std::vector<int> out;
  const uint32_t node = find(dir);
  if (node == kNone) return out;
  for_each_below(node, [&](uint32_t n) {
    if (nodes_[n].wd >= 0) out.push_back(nodes_[n].wd);
  });
  return out;
}

}  // namespace folderhook::watch
