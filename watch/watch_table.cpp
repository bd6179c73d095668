#include "watch/watch_table.h"

namespace folderhook::watch {

bool path_is_within(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

std::string rebase_path(std::string_view path, std::string_view from, std::string_view to) {
  std::string out(to);
  out.append(path.substr(from.size()));
  return out;
}

void WatchTable::add(int wd, const std::string& dir) {
  remove(wd);
  if (auto old = by_path_.find(dir); old != by_path_.end()) by_wd_.erase(old->second);
  by_wd_[wd] = dir;
  by_path_[dir] = wd;
}

void WatchTable::remove(int wd) {
  auto it = by_wd_.find(wd);
  if (it == by_wd_.end()) return;
  if (auto p = by_path_.find(it->second); p != by_path_.end() && p->second == wd) by_path_.erase(p);
  by_wd_.erase(it);
}

std::optional<std::string> WatchTable::path_of(int wd) const {
  auto it = by_wd_.find(wd);
  if (it == by_wd_.end()) return std::nullopt;
  return it->second;
}

std::optional<int> WatchTable::wd_of(const std::string& dir) const {
  auto it = by_path_.find(dir);
  if (it == by_path_.end()) return std::nullopt;
  return it->second;
}

void WatchTable::rebase(const std::string& from, const std::string& to) {
  std::vector<std::pair<int, std::string>> moved;
  for (const auto& [wd, path] : by_wd_) {
    if (path_is_within(path, from)) moved.emplace_back(wd, rebase_path(path, from, to));
  }
  for (const auto& [wd, path] : moved) add(wd, path);
}

std::vector<int> WatchTable::watches_within(const std::string& dir) const {
  std::vector<int> out;
  // by_path_ is ordered so that a directory precedes everything beneath it; walk it backwards.
  for (auto it = by_path_.rbegin(); it != by_path_.rend(); ++it) {
    if (path_is_within(it->first, dir)) out.push_back(it->second);
  }
  return out;
}

}  // namespace folderhook::watch
