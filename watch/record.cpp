#include "watch/record.h"

#include <array>
#include <utility>

namespace folderhook::watch {

std::string describe(RecordKinds kinds) {
  static constexpr std::array<std::pair<RecordKind, const char*>, 14> kNames = {{
      {RecordKind::kCreated, "created"},
      {RecordKind::kOpened, "opened"},
      {RecordKind::kModified, "modified"},
      {RecordKind::kClosedWrite, "closed-write"},
      {RecordKind::kClosedRead, "closed-read"},
      {RecordKind::kDeleted, "deleted"},
      {RecordKind::kMovedFrom, "moved-from"},
      {RecordKind::kMovedTo, "moved-to"},
      {RecordKind::kAttrib, "attrib"},
      {RecordKind::kSelfDeleted, "self-deleted"},
      {RecordKind::kSelfMoved, "self-moved"},
      {RecordKind::kWatchRemoved, "watch-removed"},
      {RecordKind::kOverflow, "overflow"},
      {RecordKind::kMarker, "marker"},
  }};
  std::string out;
  for (const auto& [kind, name] : kNames) {
    if (!kinds.has(kind)) continue;
    if (!out.empty()) out += '|';
    out += name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace folderhook::watch
