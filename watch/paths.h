// Path algebra on the absolute, normalised paths (no trailing slash but "/") that watch/ names
// things by: pure, no system calls. Public to the agent, whose rules name folders the same way.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace folderhook::watch {

// True when `path` is `dir` or lies beneath it (component-wise: "/a/bc" is not within "/a/b").
inline bool path_is_within(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

// `path` with its leading `from` replaced by `to`; `path` must be within `from`.
inline std::string rebase_path(std::string_view path, std::string_view from,
                               std::string_view to) {
  std::string out(to);
  out.append(path.substr(from.size()));
  return out;
}

// The keys of the ordered map `map` (keyed by path) at or beneath `dir`, in order.
template <typename Map>
std::vector<std::string> keys_within(const Map& map, const std::string& dir) {
  std::vector<std::string> keys;
  for (auto it = map.lower_bound(dir); it != map.end(); ++it) {
    if (it->first.compare(0, dir.size(), dir) != 0) break;
    if (path_is_within(it->first, dir)) keys.push_back(it->first);
  }
  return keys;
}

// Moves every key of the ordered map `map` (keyed by path) at or beneath `from` to the same
// place beneath `to`.
template <typename Map>
void rebase_keys(Map& map, const std::string& from, const std::string& to) {
  std::vector<typename Map::node_type> moved;
  for (auto it = map.lower_bound(from); it != map.end();) {
    if (!path_is_within(it->first, from)) {
      // Keys within `from` are contiguous, except that "a-b" sorts between "a" and "a/b".
      if (it->first.compare(0, from.size(), from) != 0) break;
      ++it;
      continue;
    }
    moved.push_back(map.extract(it++));
  }
  for (auto& node : moved) {
    node.key() = rebase_path(node.key(), from, to);
    map.insert(std::move(node));
  }
}

}  // namespace folderhook::watch
