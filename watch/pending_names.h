// PendingNames: the writes and the reads that wait to be named, each with its deadline, and the
// rules of write naming that need no file system: is a name a temp name (the folder's globs),
// is a closed write named at its close or does it wait (for its rename, for another descriptor
// to close, for the settle window), is it named when its window ends, was it ever complete.
//
// Owned by ActionBuilder, which does the I/O (a stat is asked for through a callable, and only
// when a decision needs it) and emits what gets named. Single-threaded: the builder's thread.
// Time comes in as arguments; nothing here blocks.
//
// The deadline queues: every deadline is set through schedule_write() or schedule_read(), which
// queue it with its path, so that due_write(), due_read() and next_deadline() cost O(log n) per
// item instead of a scan of everything pending. An item may be erased, replaced or given
// another deadline at any time: its older queue entries are then stale, and skipped when they
// come up (an entry is live only while its item still has that deadline).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "watch/actor.h"
#include "watch/file_system.h"
#include "watch/pending_write.h"

namespace folderhook::watch {

struct RootOptions;  // watcher.h

// A reader's close held for the settle window: if the file was the source of a copy, the copy
// names it (and it is dropped); otherwise it is named as a read when the window ends.
struct PendingRead {
  std::chrono::steady_clock::time_point deadline;  // the end of its settle window
  // When it is looked at next: its deadline, or later while a copy of it is awaited.
  std::chrono::steady_clock::time_point due;
  std::chrono::system_clock::time_point at;
  uint64_t seq = 0;  // the record of its close
  Actor actor;
};

// Whether the file at `path` has a temp-upload name: its file name matches a temp_patterns glob
// of the deepest root in `roots` that contains it. False outside every root.
bool is_temp_name(const std::string& path, const std::vector<RootOptions>& roots);

class PendingNames {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using Writes = std::map<std::string, PendingWrite>;
  using Reads = std::map<std::string, PendingRead>;

  // What a closed write waits for before it is named (kName: nothing, name it now).
  enum class AtClose { kName, kNotClosed, kTempName, kOtherOpen, kGone };
  // What a write whose settle deadline came does: wait for its rename (a temp name, no deadline
  // any more), forget it (gone: its DELETE or MOVED_FROM says the rest), settle again (found
  // by a scan and still growing: its writer opened it before our watch), or be named.
  enum class AtDeadline { kName, kWaitRename, kGone, kStillGrowing };

  // The writer of a pending write closed it (or a rename completed it): named now unless a temp
  // name waits for its rename, no close was seen, another descriptor is open on it
  // (`other_open`: maybe a writer, whose close the settle window merges), or it is gone already
  // (its DELETE or MOVED_FROM is behind this record: the window keeps it for the flush).
  // `look()` returns the file as it is now (nullopt: gone); it is called only when the rest
  // allows naming, as it costs a stat.
  template <typename Look>
  static AtClose at_close(const PendingWrite& write, bool other_open, Look&& look) {
    if (write.temp) return AtClose::kTempName;
    if (!write.closed) return AtClose::kNotClosed;
    if (other_open) return AtClose::kOtherOpen;
    if (!look()) return AtClose::kGone;
    return AtClose::kName;
  }
  // The settle deadline of `write` came. `look()` as for at_close(); not called for a temp name.
  template <typename Look>
  static AtDeadline at_deadline(const PendingWrite& write, Look&& look) {
    if (write.temp) return AtDeadline::kWaitRename;
    const std::optional<FileInfo>& info = look();
    if (!info) return AtDeadline::kGone;
    if (write.from_scan && !write.closed && info->size != write.size_seen) {
      return AtDeadline::kStillGrowing;
    }
    return AtDeadline::kName;
  }
  // A pending write deleted or moved away is reported at once (a create or an update) unless it
  // never was complete: a temp file, or a new file whose writer had not closed it yet.
  static bool complete_when_flushed(const PendingWrite& write) {
    return !write.temp && !(write.is_new && !write.closed && !write.from_scan && write.opened);
  }
  // A new name that no OPEN followed, not reported yet: maybe a hard link of another name.
  static bool may_be_link(const PendingWrite& write) {
    return write.is_new && !write.opened && !write.closed && !write.temp && !write.from_scan;
  }

  // The writes. A pointer stays valid until that write is erased or replaced.
  PendingWrite* write(const std::string& path);
  const PendingWrite* write(const std::string& path) const;
  bool has_write(const std::string& path) const { return writes_.count(path) != 0; }
  const Writes& writes() const { return writes_; }
  // Puts `write` at `path`, replacing what was there. Its deadline is not queued: only
  // schedule_write() queues one.
  PendingWrite& put_write(const std::string& path, PendingWrite write);
  // Takes out the write of `path`; nullopt when there is none.
  std::optional<PendingWrite> take_write(const std::string& path);
  void schedule_write(const std::string& path, PendingWrite& write, SteadyTime deadline);
  // The writes closed but waiting for a possible copy source to close (awaits_source).
  std::vector<std::string> awaiting_source() const;
  // The closes may have been lost (a queue overflow): every write that waits for a close (no
  // deadline) and has no temp name settles on its size from `deadline` on, as a scan's find.
  void settle_unclosed(SteadyTime deadline);

  // The reads. A pointer stays valid until that read is erased or replaced.
  PendingRead* read(const std::string& path);
  const PendingRead* read(const std::string& path) const;
  // Holds the read of `path` until read.deadline, replacing any.
  void hold_read(const std::string& path, PendingRead read);
  std::optional<PendingRead> take_read(const std::string& path);
  void schedule_read(const std::string& path, PendingRead& read, SteadyTime due);

  // The path of the next write whose live deadline is at or before `now`, taken off the queue
  // (the write stays: the caller names it, drops it or schedules it again); nullopt when none
  // is due. Stale entries on the way are dropped.
  std::optional<std::string> due_write(SteadyTime now);
  // The same for reads (their `due`).
  std::optional<std::string> due_read(SteadyTime now);
  // The earliest live deadline of a write or a read.
  std::optional<SteadyTime> next_deadline() const;

  // The tree. A directory moved: the writes and reads at or beneath `from` move beneath `to`,
  // their deadlines with them.
  void rebase(const std::string& from, const std::string& to);
  // Forgets the writes and reads whose path `gone` says.
  template <typename Pred>
  void forget_if(Pred gone) {
    std::erase_if(writes_, [&](const auto& e) { return gone(e.first); });
    std::erase_if(reads_, [&](const auto& e) { return gone(e.first); });
  }
  // The paths at or beneath `dir`, in order.
  std::vector<std::string> writes_within(const std::string& dir) const;
  std::vector<std::string> reads_within(const std::string& dir) const;

  // Links. A create that no OPEN followed was seen: a delete may be the unlink of its other
  // name, a rename done as link + unlink.
  void created_unopened() { unopened_creates_ = true; }
  // Whether some pending write may be a link. A look that finds none clears the flag, so that a
  // burst of deletes after plain creates looks once.
  bool may_hold_link();
  // The link candidate other than `unlinked` whose inode's low 32 bits are `ino`. `ino_of(path)`
  // gives a candidate's (0: not a regular file); it is asked once per candidate (link_ino).
  std::optional<std::string> find_link(const std::string& unlinked, uint32_t ino,
                                       const std::function<uint32_t(const std::string&)>& ino_of);

 private:
  template <typename Key>
  using DueQueue = std::priority_queue<std::pair<SteadyTime, Key>,
                                       std::vector<std::pair<SteadyTime, Key>>, std::greater<>>;
  // After keys beneath `dir` changed (rebase): queues their deadlines under the new paths.
  void requeue_within(const std::string& dir);

  Writes writes_;
  Reads reads_;
  // next_deadline() drops stale entries from the fronts, hence mutable.
  mutable DueQueue<std::string> write_due_;
  mutable DueQueue<std::string> read_due_;
  bool unopened_creates_ = false;
};

}  // namespace folderhook::watch
