// CopyInference: how a copy is recognised. A new file is the copy of an existing one when that
// file was read while the new one was written (or, when the backend names processes, read by the
// new file's writer), has the same size, and, read by us, the same bytes. This class keeps the
// facts the decision needs and makes it:
//   - the recent CLOSE_NOWRITEs (who closed what, in which record of the sequence);
//   - our own hashing reads: on inotify they come back as OPEN and CLOSE_NOWRITE records that are
//     no one's read, and are swallowed; a marker (ReadMarkers::put_marker) queued before our read
//     tells a reader's records of the same file, queued earlier, from ours;
//   - the sources of copies still open: their close is part of the copy, not a read.
// It does no I/O and keeps no clock: what it must know of a file now (can it be a source, its
// size, its hash) it asks a Probe; time comes in as arguments. The count of descriptors open on
// each file is the ActionBuilder's (write naming needs it too) and comes in as an argument.
//
// Owned by ActionBuilder; called on its thread only; nothing blocks but the Probe's hash.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "watch/pending_write.h"

namespace folderhook::watch {

class CopyInference {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using OpenCounts = std::map<std::string, int>;  // OPENs not yet closed, per file

  // How long an expected OPEN/CLOSE_NOWRITE of our own hashing read is waited for.
  static constexpr std::chrono::seconds kSelfReadExpiry{5};

  // What the decision asks of the file system, only when it needs it.
  class Probe {
   public:
    virtual ~Probe() = default;
    // The size of `path` when it may be the source of a copy: a regular file that is not itself
    // a new file being written; nullopt otherwise.
    virtual std::optional<uint64_t> source_size(const std::string& path) = 0;
    // inotify: ReadMarkers::put_marker(), called right before our read of a file; 0 when none.
    virtual uint64_t put_marker() = 0;
    // A hash of the whole content of `path`; nullopt when it cannot be read.
    virtual std::optional<uint64_t> hash(const std::string& path) = 0;
  };

  // The new file whose source is looked for.
  struct Copy {
    std::string path;
    uint64_t size = 0;
    uint64_t first_seq = 0;  // the record at which its writing began
    int writer_pid = 0;      // 0 when the backend does not name processes
  };

  // `own_reads_reported`: our own reads come back as records (inotify; fanotify drops the
  // agent's pid). `history`: how long a CLOSE_NOWRITE is kept as a possible source.
  CopyInference(bool own_reads_reported, std::chrono::steady_clock::duration history);

  // Records, in the order they are read. A marker record (RecordKind::kMarker) was read.
  void marker_read(uint64_t marker) { markers_read_ = marker; }
  // An OPEN of `path`: true when it is one of our own reads (it is then no one's).
  bool own_open(const std::string& path);
  // A CLOSE_NOWRITE of `path`: true when it is one of our own reads (nothing else to note).
  bool own_close(const std::string& path);
  // A reader closed `path` (record `seq`, process `pid` or 0). True when that close belongs to
  // a copy already reported with `path` as its source: it is no read of its own.
  bool read_closed(const std::string& path, uint64_t seq, SteadyTime now, int pid);

  // The files that may be the source of `copy`, in the order they are tried: the ones its
  // writer's process read (latest first), then, in path order, the ones open for reading now
  // or closed by a reader after its writing began.
  std::vector<std::string> candidates(const Copy& copy, const OpenCounts& open) const;
  // The source of `copy`: the first candidate with its size and its bytes. Hashes through the
  // probe (the copy first, once); a source still open is remembered (read_closed). Nullopt when
  // none matches, or the copy cannot be read.
  std::optional<std::string> find_source(const Copy& copy, const OpenCounts& open, Probe& probe,
                                         SteadyTime now);
  // inotify: whether a file of `size`, other than `dest`, is open now and may be the source of
  // the new file `dest`. Our read beside its reader's would race (see
  // ActionBuilder::name_at_close).
  static bool source_still_open(const std::string& dest, uint64_t size, const OpenCounts& open,
                                Probe& probe);

  // A reader's close held for the settle window: the copy names it if it was a source.
  struct HeldRead {
    uint64_t seq = 0;     // the record of its close
    int pid = 0;          // the reader, or 0
    SteadyTime deadline;  // the end of its settle window
  };
  // When a held read whose window has ended is looked at again: a new file whose writing
  // overlapped it (or that its own process writes) may still turn out to be its copy (`cat a >
  // b` closes a before b), so it waits until the earliest such write is due to be named (one
  // still open: a window from now), but never past 10 windows after its own. Nullopt: name the
  // read now. `writes`: the pending writes by path.
  static std::optional<SteadyTime> read_waits_until(
      const HeldRead& read, const std::map<std::string, PendingWrite>& writes, SteadyTime now,
      std::chrono::steady_clock::duration settle);

  // The tree changed: what is kept about paths at or beneath `from` moves beneath `to`.
  void rebase(const std::string& from, const std::string& to);
  // Forgets the own reads and open sources of the paths `gone` says (a root no longer watched).
  template <typename Pred>
  void forget_if(Pred gone) {
    std::erase_if(self_reads_, [&](const auto& e) { return gone(e.first); });
    std::erase_if(copy_sources_, [&](const auto& e) { return gone(e.first); });
  }
  // Drops what has expired: closes past the history, own reads and sources never seen to close.
  void trim(SteadyTime now);

 private:
  struct SelfRead {
    int opens = 0;
    int closes = 0;
    SteadyTime expires;
    // Our records come after this marker (0: none): a reader's OPEN or CLOSE_NOWRITE read before
    // it is the reader's, even while ours are awaited.
    uint64_t after_marker = 0;
  };
  struct ReadClose {
    uint64_t seq;
    std::string path;
    SteadyTime when;
    int pid = 0;
  };
  // Our own read of `path` if a record of it read now may be one.
  SelfRead* own_read(const std::string& path);
  // Reads `path` to hash it; on inotify, expects the records of that read.
  std::optional<uint64_t> hash_own_read(const std::string& path, Probe& probe, SteadyTime now);

  bool own_reads_reported_;
  std::chrono::steady_clock::duration history_;
  std::deque<ReadClose> read_closes_;
  std::map<std::string, SelfRead> self_reads_;
  uint64_t markers_read_ = 0;                       // the last marker record read
  std::map<std::string, SteadyTime> copy_sources_;  // their next close is not a read
};

}  // namespace folderhook::watch
