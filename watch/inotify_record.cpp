#include "watch/inotify_record.h"

#include <sys/inotify.h>

#include <array>
#include <cstring>
#include <utility>

namespace folderhook::watch {

std::vector<RawRecord> decode_inotify_records(std::string_view bytes) {
  std::vector<RawRecord> records;
  std::size_t offset = 0;
  while (bytes.size() - offset >= sizeof(inotify_event)) {
    inotify_event header;
    std::memcpy(&header, bytes.data() + offset, sizeof header);
    const std::size_t total = sizeof header + header.len;
    if (bytes.size() - offset < total) break;
    RawRecord record;
    record.wd = header.wd;
    record.mask = header.mask;
    record.cookie = header.cookie;
    // The kernel pads the name with NULs up to `len`.
    const char* name = bytes.data() + offset + sizeof header;
    record.name.assign(name, strnlen(name, header.len));
    records.push_back(std::move(record));
    offset += total;
  }
  return records;
}

RecordKinds inotify_kinds_of(uint32_t mask) {
  static constexpr std::array<std::pair<uint32_t, RecordKind>, 13> kKinds = {{
      {IN_CREATE, RecordKind::kCreated},
      {IN_OPEN, RecordKind::kOpened},
      {IN_MODIFY, RecordKind::kModified},
      {IN_CLOSE_WRITE, RecordKind::kClosedWrite},
      {IN_CLOSE_NOWRITE, RecordKind::kClosedRead},
      {IN_DELETE, RecordKind::kDeleted},
      {IN_MOVED_FROM, RecordKind::kMovedFrom},
      {IN_MOVED_TO, RecordKind::kMovedTo},
      {IN_ATTRIB, RecordKind::kAttrib},
      {IN_DELETE_SELF | IN_UNMOUNT, RecordKind::kSelfDeleted},
      {IN_MOVE_SELF, RecordKind::kSelfMoved},
      {IN_IGNORED, RecordKind::kWatchRemoved},
      {IN_Q_OVERFLOW, RecordKind::kOverflow},
  }};
  RecordKinds kinds;
  for (const auto& [bits, kind] : kKinds) {
    if ((mask & bits) != 0) kinds.add(kind);
  }
  return kinds;
}

Record inotify_record_of(const RawRecord& raw) {
  Record record;
  record.kinds = inotify_kinds_of(raw.mask);
  record.is_dir = (raw.mask & IN_ISDIR) != 0;
  record.wd = raw.wd;
  record.name = raw.name;
  record.cookie = raw.cookie;
  return record;
}

bool is_listing_record(uint32_t mask) {
  constexpr uint32_t kListing = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE;
  return (mask & IN_ISDIR) != 0 && (mask & ~IN_ISDIR) != 0 && (mask & ~(IN_ISDIR | kListing)) == 0;
}

std::string encode_inotify_record(const RawRecord& record) {
  inotify_event header{};
  header.wd = record.wd;
  header.mask = record.mask;
  header.cookie = record.cookie;
  header.len = record.name.empty() ? 0 : static_cast<uint32_t>((record.name.size() + 16) / 16 * 16);
  std::string bytes(sizeof header + header.len, '\0');
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + sizeof header, record.name.data(), record.name.size());
  return bytes;
}

std::string describe_mask(uint32_t mask) {
  static constexpr std::array<std::pair<uint32_t, const char*>, 17> kNames = {{
      {IN_ACCESS, "ACCESS"},
      {IN_MODIFY, "MODIFY"},
      {IN_ATTRIB, "ATTRIB"},
      {IN_CLOSE_WRITE, "CLOSE_WRITE"},
      {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
      {IN_OPEN, "OPEN"},
      {IN_MOVED_FROM, "MOVED_FROM"},
      {IN_MOVED_TO, "MOVED_TO"},
      {IN_CREATE, "CREATE"},
      {IN_DELETE, "DELETE"},
      {IN_DELETE_SELF, "DELETE_SELF"},
      {IN_MOVE_SELF, "MOVE_SELF"},
      {IN_UNMOUNT, "UNMOUNT"},
      {IN_Q_OVERFLOW, "Q_OVERFLOW"},
      {IN_IGNORED, "IGNORED"},
      {IN_ISDIR, "ISDIR"},
      {IN_ONESHOT, "ONESHOT"},
  }};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((mask & bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += name;
  }
  return out.empty() ? "0" : out;
}

}  // namespace folderhook::watch
