// Index: what the receivers have been told exists in the watched trees, path by path, with
// enough of each object (FileMeta) to name what changed after the fact. agent/ persists it in
// the same transaction as the deliveries (delivery/outbox), so that after a crash the index
// and the outbox never disagree; watch/ diffs it against a scan at start (the catch-up after
// downtime) and after a kernel queue overflow.
//
// Everything here is pure except scan_tree(), whose I/O goes through the FileSystem seam.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "watch/file_action.h"
#include "watch/file_system.h"

namespace folderhook::watch {

struct IndexEntry {
  ObjectType type = ObjectType::kFile;
  FileMeta meta;
  bool operator==(const IndexEntry&) const = default;
};

// By path: a parent sorts before its children.
using Index = std::map<std::string, IndexEntry>;

// A directory's ctime younger than this when it is read is not trusted by the next scan:
// timestamps come from a coarse kernel clock, so a change within the same tick could leave it
// unchanged.
constexpr std::chrono::seconds kTrustedAge{2};

// The FileMeta of `info` as read at `now` (wall clock).
FileMeta meta_of(const FileInfo& info, std::chrono::system_clock::time_point now);
// Marks `meta`'s permissions known, with the values of `perms` (its uid included).
void set_permissions(FileMeta& meta, const Permissions& perms);
// `meta`'s permissions, when known.
std::optional<Permissions> permissions_of(const FileMeta& meta);
ObjectType object_type_of(FileKind kind);

// Removes `path` and everything beneath it.
void erase_tree(Index& index, const std::string& path);
// Moves `from` and everything beneath it to `to`, replacing whatever was at `to`.
void move_tree(Index& index, const std::string& from, const std::string& to);

// What a catch-up reports: the actions (catch_up set, `at` the scan time, username empty: the
// caller names meta.uid) and the entries whose recorded metadata changed without anything to
// report (a directory's mtime, an owner, a whole folder indexed for the first time).
struct CatchUp {
  std::vector<FileAction> actions;
  std::vector<std::pair<std::string, IndexEntry>> refreshed;
};

// The pure diff between the index and a scan of the same roots: moves first (an object whose
// dev, inode, size and mtime vanished from one path and appeared at another; a moved directory
// carries its contents), then destroys (deepest first), then
// creates (parents first) and updates (a file whose size, mtime or inode changed), each update
// followed by a permission update (FileAction::permission set, owner and group names left for
// the caller) when the object at that path is the same inode and its recorded and current
// permissions are both known and differ. Applying the actions and then `refreshed` to `before`
// gives `now`.
CatchUp diff_index(const Index& before, const Index& now,
                   std::chrono::system_clock::time_point at);

// The catch-up of `roots` (absolute, not nested in each other): `before` restricted to them,
// diffed against the scan `now`. A root not in `indexed` was never indexed: what is in it is
// only recorded (refreshed), not reported, unless `report_unindexed`; whatever `before` holds
// beneath it is ignored (a partial first index: the caller erases it from the store). Pass
// `before` and `now` by move when they are not needed afterwards: `before` is then restricted
// in place rather than copied, and a first scan's entries are moved into `refreshed`.
CatchUp catch_up(Index before, Index now, const std::vector<std::string>& roots,
                 const std::set<std::string>& indexed, bool report_unindexed,
                 std::chrono::system_clock::time_point at);

// What a walk finds, appended as it goes to two flat buffers (no allocation per object), and
// made an Index only once the walk is done. The walk's own long-lived structures (the
// builder's entries, the watch table) are allocated object by object meanwhile: the map's nodes,
// allocated after them rather than interleaved, free whole pages when the index is dropped.
//
// With a `limit`, the log never holds more than that: the add() that fills it hands the records
// to `full` (on the adding thread) and starts again empty, so a walk of any size can be
// recorded in bounded batches while it runs.
class ScanLog {
 public:
  using Full = std::function<void(ScanLog&& batch)>;
  ScanLog() = default;
  ScanLog(size_t limit, Full full) : limit_(limit), full_(std::move(full)) {}

  void add(std::string_view path, const IndexEntry& entry);
  size_t size() const { return records_.size(); }
  // Empties the log, keeping its limit: the records it held, in a log without one.
  ScanLog take();
  // The index of what was added (a path added twice has its last entry); empties the log.
  Index take_index();
  // What was added, in that order (a path added twice is there twice): a first start only
  // records its scan (catch_up()), and needs no map for it. f(std::string_view, IndexEntry).
  template <typename F>
  void for_each(F&& f) const {
    const std::string_view paths = paths_;
    for (const Record& r : records_) f(paths.substr(r.offset, r.length), r.entry);
  }

 private:
  struct Record {
    size_t offset;
    size_t length;
    IndexEntry entry;
  };
  std::string paths_;
  std::vector<Record> records_;
  size_t limit_ = 0;  // 0: none
  Full full_;
};

// Counters a scan updates as it goes, read by another thread for progress lines.
struct ScanProgress {
  std::atomic<uint64_t> directories{0};
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> listings_skipped{0};  // directories whose listing came from `previous`
};

// Walks `roots` (lstat and readdir, never following a symlink) and returns every object in
// them, the roots included; paths within `ignore` are left out. Incremental where safe: a
// directory whose dev, inode, mtime and (trusted, non-zero) ctime equal its entry in `previous`
// has the same entries as `previous` says, so it is not listed again; every entry is still
// stat()ed, since a file rewritten in place does not change its directory. nullopt when
// `cancel` was set. Safe on a worker thread when `fs`'s stat() and list() are. Both walks call
// fs.sift_queue() every kSiftEvery directories. Objects beneath one of `permission_roots` (the
// folders with `permissions = true`) also have their permissions read (fs.permissions(), one
// ACL read each) and recorded in their meta; nothing else is.
std::optional<Index> scan_tree(FileSystem& fs, const std::vector<std::string>& roots,
                               const std::vector<std::string>& ignore, const Index& previous,
                               std::chrono::system_clock::time_point started,
                               ScanProgress& progress, const std::atomic<bool>& cancel,
                               const std::vector<std::string>& permission_roots = {});

// scan_tree() of folders never indexed, where no listing can be spared: every object goes to
// `log` as it is found (a log with a limit hands it over in batches while the walk runs) and
// every directory to `dirs`, parents first; no Index is made. False when `cancel` was set.
// `permission_roots` as for scan_tree().
bool record_tree(FileSystem& fs, const std::vector<std::string>& roots,
                 const std::vector<std::string>& ignore, std::chrono::system_clock::time_point started,
                 ScanProgress& progress, const std::atomic<bool>& cancel, ScanLog& log,
                 std::vector<std::string>& dirs,
                 const std::vector<std::string>& permission_roots = {});

}  // namespace folderhook::watch
