// Record: what the ActionBuilder is fed, in its own words. Each backend translates its kernel's
// records into Records at its edge (inotify: inotify_record.h; fanotify: fanotify_record.h), so
// the builder never reads a kernel mask and a backend never knows what the builder does with a
// record. One kernel record is one Record: the kernel may merge several happenings into one
// (fanotify merges an OPEN with its CLOSE_NOWRITE), so a Record carries a set of kinds, which the
// builder handles in the order of RecordKind below (the order in which they happen to one file).
// Plain data; pure, no I/O.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "watch/actor.h"

namespace folderhook::watch {

// In the order the builder handles them when one Record carries several.
enum class RecordKind : uint8_t {
  kCreated,      // `name` was made (file, directory, link, special file)
  kOpened,       // `name` was opened
  kModified,     // `name` was written to (named at its close, not here)
  kClosedWrite,  // a descriptor open for writing on `name` was closed
  kClosedRead,   // a descriptor open read-only on `name` was closed
  kDeleted,      // `name` was unlinked
  kMovedFrom,    // `name` was renamed away; `cookie` pairs it with its kMovedTo
  kMovedTo,      // `name` was renamed into place; `cookie` pairs it with its kMovedFrom
  kAttrib,       // the mode, owner, group, times or ACL of `name` changed
  // Per-directory backends: about the watched directory itself (`name` empty).
  kSelfDeleted,   // it was deleted, or its filesystem unmounted
  kSelfMoved,     // it was renamed (its watch stays, under a new path)
  kWatchRemoved,  // the kernel dropped its watch (after kSelfDeleted, or a removal of ours)
  kOverflow,      // the kernel queue overflowed: records were lost
  // Our own record (inotify): `marker` was queued ahead of our next hashing read, and every
  // record read after it was queued after it (CopyInference).
  kMarker,
};

// A set of RecordKinds.
class RecordKinds {
 public:
  constexpr RecordKinds() = default;
  constexpr RecordKinds(std::initializer_list<RecordKind> kinds) {
    for (const RecordKind kind : kinds) add(kind);
  }
  constexpr void add(RecordKind kind) { bits_ |= bit(kind); }
  constexpr bool has(RecordKind kind) const { return (bits_ & bit(kind)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool operator==(const RecordKinds&) const = default;

 private:
  static constexpr uint32_t bit(RecordKind kind) { return 1u << static_cast<unsigned>(kind); }
  uint32_t bits_ = 0;
};

// "created|opened", for test failure messages and debug logs.
std::string describe(RecordKinds kinds);

struct Record {
  RecordKinds kinds;
  bool is_dir = false;  // `name` is a directory
  // Where `name` is: a per-directory backend gives the watch (`wd`), a whole-filesystem one the
  // absolute path of the directory (`dir`); the builder reads the one its scope uses.
  int wd = -1;
  std::string dir;
  std::string name;     // the entry in that directory; empty for the directory itself
  uint32_t cookie = 0;  // kMovedFrom / kMovedTo
  uint64_t marker = 0;  // kMarker: its number (1, 2, ...)
  Actor actor;          // who did it, when the backend can tell
};

}  // namespace folderhook::watch
