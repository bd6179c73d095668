// PendingWrite: what the ActionBuilder keeps of a file between its first record and the action
// that names it (create, copy or update). Plain data; PendingNames (pending_names.h) keeps it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "watch/actor.h"

namespace folderhook::watch {

// A file being written; or closed but held for the settle window (another descriptor still
// open on it, gone before its close was read); or a link or special file, which gets no OPEN
// or CLOSE; or a temp upload waiting for its rename.
struct PendingWrite {
  using SteadyTime = std::chrono::steady_clock::time_point;
  bool is_new = true;          // create (or copy) rather than update
  bool temp = false;           // created under a temp-upload name: never reported itself
  bool opened = false;         // an OPEN was seen before the first close: a writer, not a link
  bool closed = false;         // the writer closed it: the content is complete
  bool from_scan = false;      // found by a scan; its writer may have opened it before the watch
  bool awaits_source = false;  // closed, but a file that may be its source is still open
  std::optional<SteadyTime> deadline;  // nullopt while a writer holds it open
  std::chrono::system_clock::time_point at;
  uint64_t first_seq = 0;  // reads overlapping [first_seq, due] are copy candidates
  uint64_t size_seen = 0;
  // Never opened: may be a hard link. Its inode's low 32 bits once a delete made us look
  // (0: not a regular file), so that a burst of deletes stats it once.
  std::optional<uint32_t> link_ino;
  Actor actor;  // the last writer
};

}  // namespace folderhook::watch
