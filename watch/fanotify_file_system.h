// FanotifyFileSystem: the FileSystem of the fanotify backend. A "watch" costs no kernel
// resource here: the filesystem mark already sees every directory. add_watch() learns the
// directory's file handle and returns a number standing for it, so that the ActionBuilder's
// watch table (kept right across moves) turns the handles of later events back into paths,
// even for directories deleted by the time their events are read. Loop thread only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "watch/real_file_system.h"

namespace folderhook::watch {

class FanotifyFileSystem : public RealFileSystem {
 public:
  // Outside directories whose paths are remembered; past this the memory is dropped.
  static constexpr std::size_t kMaxOutside = 65536;

  FanotifyFileSystem() : RealFileSystem(-1) {}
  ~FanotifyFileSystem() override;
  FanotifyFileSystem(const FanotifyFileSystem&) = delete;
  FanotifyFileSystem& operator=(const FanotifyFileSystem&) = delete;

  int add_watch(const std::string& dir) override;
  void remove_watch(int wd) override;
  uint64_t max_user_watches() override { return 0; }
  // The builder's walks sift the queue through the engine, which owns the descriptor and what
  // is kept (set by the engine; unset: nothing to do).
  void sift_queue() override {
    if (sift_) sift_();
  }
  void set_sift(std::function<void()> sift) { sift_ = std::move(sift); }
  bool concurrent_walk() const override { return false; }  // add_watch() learns handles

  // An open directory on the filesystem `fsid` (owned from now on): open_by_handle_at needs one.
  void add_mount(const std::string& fsid, int fd);
  // The next add_watch(dir) takes this handle (from the event that created or moved `dir` in)
  // instead of asking the kernel, which cannot answer once `dir` is gone.
  void expect(const std::string& dir, const std::string& key);
  void forget_expected() { expected_.clear(); }

  std::optional<int> wd_of_key(const std::string& key) const;
  // Where the directory of `key` is now, asked of the kernel; nullopt when it is gone.
  std::optional<std::string> resolve(const std::string& key);
  // Paths of directories outside every root, so that their events are dropped without a system
  // call. A directory rename anywhere may change them: clear_outside() then.
  std::optional<std::string> outside_path(const std::string& key) const;
  void remember_outside(const std::string& key, const std::string& path);
  void clear_outside() { outside_.clear(); }

  // fsid + file handle of `path` (not following a final symlink), or "" with errno set.
  std::string key_of(const std::string& path);

 private:
  std::map<std::string, int> mount_fds_;   // fsid -> directory fd
  std::map<int, std::string> fsid_by_mount_id_;
  std::unordered_map<std::string, int> wd_by_key_;
  std::map<int, std::string> key_by_wd_;
  std::map<std::string, std::string> expected_;
  std::unordered_map<std::string, std::string> outside_;
  int next_wd_ = 1;
  std::function<void()> sift_;
};

}  // namespace folderhook::watch
