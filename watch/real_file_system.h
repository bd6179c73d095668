// RealFileSystem: the FileSystem of a running watcher: inotify watches on one descriptor,
// lstat, readdir, a fast content hash, and a cached uid -> name lookup. Loop thread only,
// except what file_system.h allows elsewhere (add_watch() and list_stat() from the start
// walk's helpers too); sift_queue() and take_held() are called by one thread at a time (the
// start walk's, then the loop's once the walk is over).
#pragma once

#include <atomic>
#include <map>

#include "watch/file_system.h"
#include "watch/inotify_record.h"
#include "watch/read_markers.h"
#include "watch/record.h"

namespace folderhook::watch {

// The events the builder needs. Directory watches never follow symlinks. IN_ATTRIB only when a
// folder reports permission changes (`attributes`).
uint32_t watch_mask(bool attributes = false);

// Fast 64-bit hash of bytes (not cryptographic): copy inference compares content with it.
uint64_t content_hash(const void* data, std::size_t size, uint64_t seed);

class RealFileSystem : public FileSystem, public ReadMarkers {
 public:
  // Files larger than this are not hashed (so never inferred as copies): hashing runs on the
  // loop thread and must not stall it for long.
  static constexpr uint64_t kMaxHashBytes = 256ull << 20;
  // Records sift_queue() keeps at most (the kernel's default fs.inotify.max_queued_events).
  static constexpr std::size_t kMaxHeld = 16384;

  // Marker watches, used in turn: inotify merges two identical records in a row, never two
  // of different watches, and a marker lost to an overflow is told from the next by its watch.
  static constexpr std::size_t kMarkerRing = 4;

  explicit RealFileSystem(int inotify_fd, bool attributes = false)
      : fd_(inotify_fd), attributes_(attributes) {}
  ~RealFileSystem() override;
  RealFileSystem(const RealFileSystem&) = delete;
  RealFileSystem& operator=(const RealFileSystem&) = delete;

  int add_watch(const std::string& dir) override;
  void remove_watch(int wd) override;
  std::optional<FileInfo> stat(const std::string& path) override;
  std::vector<std::string> list(const std::string& dir) override;
  std::vector<DirEntry> list_stat(const std::string& dir) override;
  // add_watch() and list_stat() keep no state but the atomic O_NOATIME flag.
  bool concurrent_walk() const override { return true; }
  // Reads what the kernel has queued, drops the listings (is_listing_record) and keeps the
  // rest, in order, for take_held(). Past kMaxHeld kept records it keeps one IN_Q_OVERFLOW
  // instead and drops the rest, as the kernel does when its own queue fills.
  void sift_queue() override;
  // What sift_queue() kept, oldest first; to be fed before anything read later.
  std::vector<RawRecord> take_held();
  // A marker is an IN_ATTRIB of one of kMarkerRing memfds (anonymous files of our own, watched
  // through /proc/self/fd), from an fchmod: no path of anyone's, nothing on disk.
  uint64_t put_marker() override;
  // The number of the marker a record on `wd` is (past markers lost to an overflow if need
  // be), or 0 when `wd` is no marker's. Called once per record read, in order.
  uint64_t marker_read(int wd);
  // The inotify backend's edge: `raw` in the builder's words (inotify_record_of), or a
  // RecordKind::kMarker record when it is one of our markers (marker_read).
  Record translate(const RawRecord& raw);
  std::optional<uint64_t> hash(const std::string& path) override;
  std::string user_name(uid_t uid) override;
  std::string group_name(gid_t gid) override;
  // Opened beneath `root` with openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) as O_PATH: no
  // symlink is followed, the object is not opened for reading (no OPEN record), and its ACL
  // xattrs are read through /proc/self/fd.
  std::optional<Permissions> permissions(const std::string& root, const std::string& path) override;
  // Whether add_watch() asks for IN_ATTRIB: set before the first watch, or before the watches
  // are added again (an inotify_add_watch of a watched directory replaces its mask).
  void set_attributes(bool on) { attributes_ = on; }
  bool attributes() const { return attributes_; }
  uint64_t max_user_watches() override;

 private:
  int fd_;
  std::map<uid_t, std::string> names_;
  std::map<gid_t, std::string> groups_;
  bool attributes_ = false;
  std::atomic<bool> noatime_{true};  // O_NOATIME is refused where we do not own the directory
  std::string held_;                 // kept records, as the kernel encoded them
  std::size_t held_count_ = 0;
  bool held_overflowed_ = false;
  struct Marker {
    int fd = -1;
    int wd = -1;
    bool mode = false;  // toggled at each use: the fchmod always changes something
  };
  std::vector<Marker> markers_;  // empty until the first put_marker()
  bool markers_failed_ = false;  // memfd or its watch refused: no markers, as before
  uint64_t markers_put_ = 0;
  uint64_t markers_read_ = 0;
};

}  // namespace folderhook::watch
