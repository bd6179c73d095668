// FanotifyEvent: one fanotify event as read from a FAN_REPORT_DFID_NAME | FAN_REPORT_FID group,
// decoded without interpretation. decode_fanotify_events is pure: the bytes of one read() in,
// events out; encode_fanotify_event is its inverse, for tests. HeldFanotifyEvents keeps what a
// start scan's sift took off the queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "watch/record.h"

namespace folderhook::watch {

// One information record: a file handle on a filesystem, and for the *_DFID_NAME types the
// name of an entry in that directory.
struct FanotifyFid {
  uint8_t type = 0;    // FAN_EVENT_INFO_TYPE_FID, _DFID_NAME, _OLD_DFID_NAME, _NEW_DFID_NAME...
  std::string key;     // fsid + struct file_handle bytes: equal keys are the same object
  std::string name;    // entry name ("." for an event on the directory itself); "" for FID
};

struct FanotifyEvent {
  uint64_t mask = 0;
  int32_t pid = 0;
  std::vector<FanotifyFid> fids;
};

// Decodes every complete event in `bytes`; a truncated or malformed one ends the decoding
// (read() never returns one, but a corrupt length must not read out of bounds).
std::vector<FanotifyEvent> decode_fanotify_events(std::string_view bytes);
std::string encode_fanotify_event(const FanotifyEvent& event);

// The fanotify bits of a directory entry event (a directory's own open and close are not).
constexpr uint64_t kFanotifyDirentMask = 0x00000100 | 0x00000200 | 0x10000000 | 0x00000040 |
                                         0x00000080;  // CREATE DELETE RENAME MOVED_FROM/TO

// The records a read-only start scan takes off the queue before anything else reads it (the
// fanotify engine's sift_queue). add_read() drops what the engine drops first whenever it reads
// it (the agent's own records, by pid; a directory opened or closed) and keeps the rest as the
// kernel encoded it, one string per read(), in order, `limit` records at most: past that, one
// FAN_Q_OVERFLOW record stands for the rest, as the kernel's own would.
class HeldFanotifyEvents {
 public:
  HeldFanotifyEvents(int32_t self, std::size_t limit) : self_(self), limit_(limit) {}
  void add_read(std::string_view bytes);
  // What was kept, oldest read first; empties it.
  std::vector<std::string> take();
  std::size_t count() const { return count_; }

 private:
  int32_t self_;
  std::size_t limit_;
  std::vector<std::string> reads_;
  std::size_t count_ = 0;
  bool overflowed_ = false;
};

// The fsid part and the struct file_handle part of a key (for open_by_handle_at).
std::string_view fsid_of_key(std::string_view key);
std::string_view handle_of_key(std::string_view key);

// The fanotify backend's edge: the builder's kinds (watch/record.h) for the fanotify bits of
// `mask`: CREATE, DELETE, OPEN, MODIFY, CLOSE_*, MOVED_*, ATTRIB, Q_OVERFLOW. FAN_ONDIR is
// Record::is_dir, FAN_RENAME two Records (the engine splits it by its two names), and the rest
// (FAN_ACCESS...) none.
RecordKinds fanotify_kinds_of(uint64_t fanotify_mask);

}  // namespace folderhook::watch
