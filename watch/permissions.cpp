#include "watch/permissions.h"

#include <cstdio>

#include "watch/watch_table.h"

namespace folderhook::watch {

std::string format_mode(uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", mode & 07777u);
  return text;
}

const std::string* permission_root_of(const std::vector<std::string>& roots,
                                      std::string_view path) {
  const std::string* best = nullptr;
  for (const std::string& root : roots) {
    if (path.size() > root.size() && path_is_within(path, root) &&
        (best == nullptr || root.size() > best->size())) {
      best = &root;
    }
  }
  return best;
}

bool PermissionBook::changed(const std::string& path, const Permissions& now) {
  const auto [it, inserted] = book_.try_emplace(path, now);
  if (inserted || it->second == now) return false;
  it->second = now;
  return true;
}

std::optional<Permissions> PermissionBook::find(const std::string& path) const {
  const auto it = book_.find(path);
  if (it == book_.end()) return std::nullopt;
  return it->second;
}

namespace {

// Visits `path` and every key beneath it: the keys that start with "path/" sort next to each
// other (a common prefix), so they are one range from lower_bound. fn returns the next iterator.
template <typename Map, typename Fn>
void for_tree(Map& map, const std::string& path, Fn&& fn) {
  const bool top = path == "/";
  if (auto it = map.find(path); !top && it != map.end()) fn(it);
  const std::string below = top ? "/" : path + "/";
  for (auto it = map.lower_bound(below);
       it != map.end() && it->first.compare(0, below.size(), below) == 0;) {
    it = fn(it);
  }
}

}  // namespace

void PermissionBook::erase_tree(const std::string& path) {
  for_tree(book_, path, [this](auto it) { return book_.erase(it); });
}

void PermissionBook::move_tree(const std::string& from, const std::string& to) {
  if (from == to) return;
  erase_tree(to);
  std::vector<std::pair<std::string, Permissions>> moved;
  for_tree(book_, from, [&](auto it) {
    moved.emplace_back(rebase_path(it->first, from, to), it->second);
    return book_.erase(it);
  });
  for (auto& [path, perms] : moved) book_[std::move(path)] = perms;
}

}  // namespace folderhook::watch
