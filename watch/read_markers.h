// ReadMarkers: a capability the inotify backend gives the ActionBuilder, so that the records of
// our own hashing reads (which inotify reports like anyone's) can be told from a reader's records
// of the same file queued before them. Whole-filesystem backends drop the agent's own records
// by pid and have none (the builder is then given nullptr).
//
// The builder calls put_marker() right before it reads a file; the backend later hands it the
// marker as a Record of kind RecordKind::kMarker (watch/record.h), in queue order. Loop thread.
#pragma once

#include <cstdint>

namespace folderhook::watch {

class ReadMarkers {
 public:
  virtual ~ReadMarkers() = default;
  // Queues a marker record now, ahead of the records of whatever this thread does next, and
  // returns its number (1, 2, ...); 0 when none could be queued.
  virtual uint64_t put_marker() = 0;
};

}  // namespace folderhook::watch
