// FakeFileSystem: an in-memory tree behind the FileSystem seam, for driving ActionBuilder.
// Tests change the tree first and then feed the records the kernel would have produced.
#pragma once

#include <cerrno>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "watch/file_system.h"
#include "watch/watch_table.h"

namespace folderhook::watch::testing {

class FakeFileSystem : public FileSystem {
 public:
  struct Node {
    FileKind kind = FileKind::kRegular;
    uid_t uid = 1000;
    std::string content;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    uint64_t ino = 0;  // 0 unless a test gives one (set_ino, link)
    uint32_t mode = 0644;
    gid_t gid = 100;
  };

  // --- the tree ---
  void mkdir(const std::string& path, uid_t uid = 1000) {
    nodes_[path] = Node{FileKind::kDirectory, uid, {}};
  }
  void write(const std::string& path, const std::string& content, uid_t uid = 1000) {
    nodes_[path] = Node{FileKind::kRegular, uid, content};
  }
  void symlink(const std::string& path) { nodes_[path] = Node{FileKind::kSymlink, 1000, "x"}; }
  void remove_tree(const std::string& path) {
    std::erase_if(nodes_, [&](const auto& n) { return path_is_within(n.first, path); });
  }
  void rename(const std::string& from, const std::string& to) {
    std::map<std::string, Node> moved;
    std::erase_if(nodes_, [&](const auto& n) {
      if (!path_is_within(n.first, from)) return false;
      moved[rebase_path(n.first, from, to)] = n.second;
      return true;
    });
    for (auto& [path, node] : moved) nodes_[path] = node;
  }
  bool exists(const std::string& path) const { return nodes_.count(path) != 0; }
  void set_ino(const std::string& path, uint64_t ino) { nodes_.at(path).ino = ino; }
  // A hard link: a second name with the same inode (the content is copied, not shared).
  void link(const std::string& from, const std::string& to) { nodes_[to] = nodes_.at(from); }
  void chmod(const std::string& path, uint32_t mode) { nodes_.at(path).mode = mode; }
  void chown(const std::string& path, uid_t uid, gid_t gid) {
    nodes_.at(path).uid = uid;
    nodes_.at(path).gid = gid;
  }
  void set_times(const std::string& path, int64_t mtime_ns, int64_t ctime_ns) {
    nodes_.at(path).mtime_ns = mtime_ns;
    nodes_.at(path).ctime_ns = ctime_ns;
  }

  // --- watches ---
  std::optional<int> wd(const std::string& dir) const {
    for (const auto& [wd, path] : watches_) {
      if (path == dir) return wd;
    }
    return std::nullopt;
  }
  std::size_t watch_count() const { return watches_.size(); }
  // stat() calls so far: the kernel cost of naming an operation (issue 24).
  std::size_t stat_calls = 0;
  std::size_t watch_limit = 1000;
  std::vector<std::string> hashed;  // every path hashed, in order
  std::vector<int> removed_watches;
  int add_watch_calls = 0;

  int add_watch(const std::string& dir) override {
    ++add_watch_calls;
    auto node = nodes_.find(dir);
    if (node == nodes_.end()) return -ENOENT;
    if (node->second.kind != FileKind::kDirectory) return -ENOTDIR;
    if (auto existing = wd(dir)) return *existing;
    if (watches_.size() >= watch_limit) return -ENOSPC;
    watches_[next_wd_] = dir;
    return next_wd_++;
  }
  void remove_watch(int wd) override {
    removed_watches.push_back(wd);
    watches_.erase(wd);
  }
  std::optional<FileInfo> stat(const std::string& path) override {
    ++stat_calls;
    auto node = nodes_.find(path);
    if (node == nodes_.end()) return std::nullopt;
    FileInfo info{node->second.kind, node->second.uid, node->second.content.size()};
    info.mtime_ns = node->second.mtime_ns;
    info.ctime_ns = node->second.ctime_ns;
    info.ino = node->second.ino;
    info.mode = node->second.mode;
    info.gid = node->second.gid;
    return info;
  }
  std::vector<std::string> list(const std::string& dir) override {
    std::vector<std::string> names;
    for (const auto& [path, node] : nodes_) {
      if (path.size() > dir.size() + 1 && path_is_within(path, dir) &&
          path.find('/', dir.size() + 1) == std::string::npos) {
        names.push_back(path.substr(dir.size() + 1));
      }
    }
    return names;
  }
  std::optional<uint64_t> hash(const std::string& path) override {
    auto node = nodes_.find(path);
    if (node == nodes_.end() || node->second.kind != FileKind::kRegular) return std::nullopt;
    hashed.push_back(path);
    return std::hash<std::string>{}(node->second.content);
  }
  std::string user_name(uid_t uid) override {
    if (uid == 1000) return "alice";
    if (uid == 1001) return "bob";
    return std::to_string(uid);
  }
  std::string group_name(gid_t gid) override { return gid == 100 ? "users" : std::to_string(gid); }
  uint64_t max_user_watches() override { return watch_limit; }

 private:
  std::map<std::string, Node> nodes_;
  std::map<int, std::string> watches_;
  int next_wd_ = 1;
};

}  // namespace folderhook::watch::testing
