// RealFileSystem: the FileSystem of a running watcher: inotify watches on one descriptor,
// lstat, readdir, a fast content hash, and a cached uid -> name lookup. Loop thread only.
#pragma once

#include <map>

#include "watch/file_system.h"

namespace folderhook::watch {

// The events the builder needs. Directory watches never follow symlinks.
uint32_t watch_mask();

// Fast 64-bit hash of bytes (not cryptographic): copy inference compares content with it.
uint64_t content_hash(const void* data, std::size_t size, uint64_t seed);

class RealFileSystem : public FileSystem {
 public:
  // Files larger than this are not hashed (so never inferred as copies): hashing runs on the
  // loop thread and must not stall it for long.
  static constexpr uint64_t kMaxHashBytes = 256ull << 20;

  explicit RealFileSystem(int inotify_fd) : fd_(inotify_fd) {}

  int add_watch(const std::string& dir) override;
  void remove_watch(int wd) override;
  std::optional<FileInfo> stat(const std::string& path) override;
  std::vector<std::string> list(const std::string& dir) override;
  std::optional<uint64_t> hash(const std::string& path) override;
  std::string user_name(uid_t uid) override;
  uint64_t max_user_watches() override;

 private:
  int fd_;
  std::map<uid_t, std::string> names_;
};

}  // namespace folderhook::watch
