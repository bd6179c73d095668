#include "watch/watch_table.h"

#include <algorithm>
#include <functional>
#include <utility>

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

std::size_t hash_of_child(uint32_t parent, std::string_view name) {
  return std::hash<std::string_view>{}(name) ^ (parent * 0x9E3779B97F4A7C15ULL);
}

}  // namespace

WatchTable::WatchTable() { nodes_.emplace_back(); }

std::size_t WatchTable::child_hash(uint32_t id) const {
  return hash_of_child(nodes_[id].parent, nodes_[id].name);
}

std::size_t WatchTable::hash_of_wd(int wd) {
  return static_cast<std::size_t>(static_cast<uint32_t>(wd)) * 0x9E3779B97F4A7C15ULL >> 16;
}

uint32_t WatchTable::node_of_wd(int wd) const {
  const uint32_t node =
      wd_index_.find(hash_of_wd(wd), [&](uint32_t id) { return nodes_[id].wd == wd; });
  return node == IdSet::kEmpty ? kNone : node;
}

template <typename Fn>
void WatchTable::for_each_below(uint32_t node, Fn&& fn) const {
  // Iterative post-order (trees can be deeper than a stack likes).
  std::vector<std::pair<uint32_t, uint32_t>> stack{{node, nodes_[node].first_child}};
  while (!stack.empty()) {
    auto& [current, next_child] = stack.back();
    if (next_child == kNone) {
      const uint32_t done = current;
      stack.pop_back();
      fn(done);
      continue;
    }
    const uint32_t child = next_child;
    next_child = nodes_[child].next;
    stack.emplace_back(child, nodes_[child].first_child);
  }
}

uint32_t WatchTable::child(uint32_t parent, std::string_view name) const {
  const uint32_t id = children_.find(hash_of_child(parent, name), [&](uint32_t c) {
    return nodes_[c].parent == parent && nodes_[c].name == name;
  });
  return id == IdSet::kEmpty ? kNone : id;
}

void WatchTable::link(uint32_t node, uint32_t parent) {
  Node& n = nodes_[node];
  n.parent = parent;
  n.prev = kNone;
  n.next = nodes_[parent].first_child;
  if (n.next != kNone) nodes_[n.next].prev = node;
  nodes_[parent].first_child = node;
  children_.insert(node, [this](uint32_t id) { return child_hash(id); });
}

void WatchTable::unlink(uint32_t node) {
  Node& n = nodes_[node];
  if (n.parent == kNone) return;
  children_.erase(node, [this](uint32_t id) { return child_hash(id); });
  if (n.prev != kNone) {
    nodes_[n.prev].next = n.next;
  } else {
    nodes_[n.parent].first_child = n.next;
  }
  if (n.next != kNone) nodes_[n.next].prev = n.prev;
  n.parent = n.next = n.prev = kNone;
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
  link(node, parent);
  return node;
}

void WatchTable::prune(uint32_t node) {
  while (node != kRoot && node != kNone && nodes_[node].wd < 0 && !nodes_[node].is_known &&
         nodes_[node].first_child == kNone) {
    const uint32_t parent = nodes_[node].parent;
    unlink(node);
    nodes_[node] = Node{};
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

uint32_t WatchTable::child_or_create(uint32_t parent, std::string_view name) {
  const uint32_t node = child(parent, name);
  return node != kNone ? node : new_node(parent, name);
}

uint32_t WatchTable::find_or_create(std::string_view path) {
  uint32_t node = kRoot;
  each_component(path, [&](std::string_view name) {
    node = child_or_create(node, name);
    return true;
  });
  return node;
}

std::string WatchTable::spell(uint32_t node) const {
  if (node == kRoot) return "/";
  std::size_t size = 0;
  for (uint32_t n = node; n != kRoot; n = nodes_[n].parent) size += 1 + nodes_[n].name.size();
  std::string path(size, '/');
  for (uint32_t n = node; n != kRoot; n = nodes_[n].parent) {
    const std::string& name = nodes_[n].name;
    size -= name.size();
    path.replace(size, name.size(), name);
    --size;  // the '/' before it, already there
  }
  return path;
}

// Watches

WatchTable::Ref WatchTable::add(int wd, const std::string& dir) {
  remove(wd);
  const uint32_t node = find_or_create(dir);
  const auto by_wd = [this](uint32_t id) { return wd_hash(id); };
  if (nodes_[node].wd >= 0) wd_index_.erase(node, by_wd);
  nodes_[node].wd = wd;
  wd_index_.insert(node, by_wd);
  return node;
}

void WatchTable::remove(int wd) {
  const uint32_t node = node_of_wd(wd);
  if (node == kNone) return;
  wd_index_.erase(node, [this](uint32_t id) { return wd_hash(id); });
  nodes_[node].wd = -1;
  prune(node);
}

std::optional<std::string> WatchTable::path_of(int wd) const {
  const uint32_t node = node_of_wd(wd);
  if (node == kNone) return std::nullopt;
  return spell(node);
}

std::optional<int> WatchTable::wd_of(const std::string& dir) const {
  const uint32_t node = find(dir);
  if (node == kNone || nodes_[node].wd < 0) return std::nullopt;
  return nodes_[node].wd;
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

// Known objects

const WatchTable::Known* WatchTable::known(std::string_view path) const {
  const uint32_t node = find(path);
  return node != kNone && nodes_[node].is_known ? &nodes_[node].known : nullptr;
}

WatchTable::Known* WatchTable::known(std::string_view path) {
  const uint32_t node = find(path);
  return node != kNone && nodes_[node].is_known ? &nodes_[node].known : nullptr;
}

WatchTable::Known& WatchTable::set_known(std::string_view path, Known what) {
  Known& known = known_or(path, what);
  known = what;
  return known;
}

WatchTable::Known& WatchTable::known_or(std::string_view path, Known what) {
  return known_at(find_or_create(path), what);
}

WatchTable::Known& WatchTable::known_at(uint32_t id, Known what) {
  Node& node = nodes_[id];
  if (!node.is_known) {
    node.is_known = true;
    node.known = what;
    ++known_count_;
  }
  return node.known;
}

bool WatchTable::child_known(Ref dir, std::string_view name) const {
  const uint32_t node = child(dir, name);
  return node != kNone && nodes_[node].is_known;
}

void WatchTable::set_known_child(Ref dir, std::string_view name, Known what) {
  known_at(child_or_create(dir, name), what) = what;
}

void WatchTable::forget(std::string_view path) {
  const uint32_t node = find(path);
  if (node == kNone || !nodes_[node].is_known) return;
  nodes_[node].is_known = false;
  nodes_[node].known = Known{};
  --known_count_;
  prune(node);
}

std::vector<std::string> WatchTable::known_within(std::string_view dir) const {
  std::vector<std::string> out;
  const uint32_t node = find(dir);
  if (node == kNone) return out;
  for_each_below(node, [&](uint32_t n) {
    if (nodes_[n].is_known) out.push_back(spell(n));
  });
  std::sort(out.begin(), out.end());
  return out;
}

// Both

void WatchTable::rebase(const std::string& from, const std::string& to) {
  if (from == to) return;
  const uint32_t moved = find(from);
  if (moved == kNone) return;
  const auto slash = to.rfind('/');
  const std::string_view name =
      slash == std::string::npos ? std::string_view(to) : std::string_view(to).substr(slash + 1);
  if (moved != kRoot && find(to) == kNone && !name.empty() && !path_is_within(to, from)) {
    // The usual rename onto a new name: re-link the one node, everything beneath follows.
    const uint32_t old_parent = nodes_[moved].parent;
    const uint32_t new_parent = find_or_create(
        slash == std::string::npos ? std::string_view() : std::string_view(to).substr(0, slash));
    unlink(moved);
    nodes_[moved].name.assign(name);
    link(moved, new_parent);
    prune(old_parent);
    return;
  }
  // Onto a path the table already knows: take everything out, then put it at its new path.
  struct Moving {
    std::string path;
    int wd;
    std::optional<Known> known;
  };
  std::vector<Moving> moving;
  for_each_below(moved, [&](uint32_t n) {
    const Node& node = nodes_[n];
    if (node.wd < 0 && !node.is_known) return;
    moving.push_back({spell(n), node.wd, node.is_known ? std::optional(node.known) : std::nullopt});
  });
  for (const Moving& m : moving) {
    if (m.known) forget(m.path);
    if (m.wd >= 0) remove(m.wd);
  }
  for (const Moving& m : moving) {
    const std::string path = rebase_path(m.path, from, to);
    if (m.known) set_known(path, *m.known);
    if (m.wd >= 0) add(m.wd, path);
  }
}

}  // namespace folderhook::watch
