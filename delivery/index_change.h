// The index of the watched trees as delivery/ stores it: plain rows that agent/ converts from
// watch/'s index, written by the outbox in the same transaction as the deliveries that report
// the same operations, so that after a crash the two never disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/object_meta.h"

namespace folderhook::delivery {

// The metadata (ObjectMeta, common/object_meta.h: the definition watch/'s index uses) and where.
struct IndexRow : ObjectMeta {
  std::string path;  // absolute, raw bytes
  bool directory = false;
  bool operator==(const IndexRow&) const = default;
};

struct IndexChange {
  enum class Kind {
    kPut,         // row.path now holds row
    kErase,       // row.path and everything beneath it are gone
    kMove,        // row.path and everything beneath it now live at destination
    kRootIndexed,  // row.path (a watched folder) has been indexed
    kRelist        // row.path's listing is not to be trusted: its ctime_ns becomes 0
  };
  Kind kind = Kind::kPut;
  IndexRow row;
  std::string destination;
};

// The stored index: what Dispatcher::read_index() reads (rows in path order), and the folders
// indexed as loaded at start.
struct IndexSnapshot {
  std::vector<IndexRow> rows;
  std::vector<std::string> indexed_roots;
};

}  // namespace folderhook::delivery
