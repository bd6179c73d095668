#include "watch/fanotify_record.h"

#include <sys/fanotify.h>

#include <array>
#include <cstring>
#include <utility>

namespace folderhook::watch {
namespace {

constexpr std::size_t kFsidBytes = 8;         // __kernel_fsid_t
constexpr std::size_t kHandleHeaderBytes = 8;  // struct file_handle: handle_bytes, handle_type

template <typename T>
T load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

bool has_name(uint8_t type) {
  return type == FAN_EVENT_INFO_TYPE_DFID_NAME || type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
         type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
}

bool is_fid(uint8_t type) {
  return has_name(type) || type == FAN_EVENT_INFO_TYPE_FID || type == FAN_EVENT_INFO_TYPE_DFID;
}

}  // namespace

static_assert(kFanotifyDirentMask ==
              (FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_MOVED_FROM | FAN_MOVED_TO));

void HeldFanotifyEvents::add_read(std::string_view bytes) {
  std::string kept;
  for (std::size_t at = 0; bytes.size() - at >= sizeof(fanotify_event_metadata);) {
    const auto meta = load<fanotify_event_metadata>(bytes.data() + at);
    if (meta.event_len < sizeof meta || meta.event_len > bytes.size() - at) break;
    const bool dropped = !(meta.mask & FAN_Q_OVERFLOW) &&
                         (meta.pid == self_ ||
                          ((meta.mask & FAN_ONDIR) &&
                           !(meta.mask & (kFanotifyDirentMask | FAN_ATTRIB))));
    if (!dropped && !overflowed_) {
      if (count_ < limit_) {
        kept.append(bytes.data() + at, meta.event_len);
        ++count_;
      } else {
        overflowed_ = true;
        fanotify_event_metadata overflow{};
        overflow.event_len = sizeof overflow;
        overflow.vers = FANOTIFY_METADATA_VERSION;
        overflow.metadata_len = sizeof overflow;
        overflow.mask = FAN_Q_OVERFLOW;
        overflow.fd = FAN_NOFD;
        kept.append(reinterpret_cast<const char*>(&overflow), sizeof overflow);
      }
    }
    at += meta.event_len;
  }
  if (!kept.empty()) reads_.push_back(std::move(kept));
}

std::vector<std::string> HeldFanotifyEvents::take() {
  std::vector<std::string> reads = std::move(reads_);
  reads_ = {};
  count_ = 0;
  overflowed_ = false;
  return reads;
}

std::vector<FanotifyEvent> decode_fanotify_events(std::string_view bytes) {
  std::vector<FanotifyEvent> events;
  std::size_t at = 0;
  while (bytes.size() - at >= sizeof(fanotify_event_metadata)) {
    const auto meta = load<fanotify_event_metadata>(bytes.data() + at);
    if (meta.event_len < sizeof meta || meta.metadata_len < sizeof meta ||
        meta.metadata_len > meta.event_len || meta.event_len > bytes.size() - at) {
      break;
    }
    FanotifyEvent event;
    event.mask = meta.mask;
    event.pid = meta.pid;
    const char* const end = bytes.data() + at + meta.event_len;
    const char* p = bytes.data() + at + meta.metadata_len;
    while (end - p >= static_cast<std::ptrdiff_t>(sizeof(fanotify_event_info_header))) {
      const auto header = load<fanotify_event_info_header>(p);
      if (header.len < sizeof header || header.len > end - p) break;
      const std::size_t min = sizeof header + kFsidBytes + kHandleHeaderBytes;
      if (is_fid(header.info_type) && header.len >= min) {
        const char* fsid = p + sizeof header;
        const char* handle = fsid + kFsidBytes;
        const uint32_t handle_bytes = load<uint32_t>(handle);
        const std::size_t handle_size = kHandleHeaderBytes + handle_bytes;
        if (min + handle_bytes <= header.len) {
          FanotifyFid fid;
          fid.type = header.info_type;
          fid.key.assign(fsid, kFsidBytes + handle_size);
          if (has_name(header.info_type)) {
            const char* name = handle + handle_size;
            const char* name_end = p + header.len;
            fid.name.assign(name, strnlen(name, static_cast<std::size_t>(name_end - name)));
          }
          event.fids.push_back(std::move(fid));
        }
      }
      p += header.len;
    }
    events.push_back(std::move(event));
    at += meta.event_len;
  }
  return events;
}

std::string encode_fanotify_event(const FanotifyEvent& event) {
  std::string info;
  for (const FanotifyFid& fid : event.fids) {
    std::string body = fid.key;
    if (has_name(fid.type)) body += fid.name + '\0';
    while ((sizeof(fanotify_event_info_header) + body.size()) % 4 != 0) body += '\0';
    fanotify_event_info_header header{};
    header.info_type = fid.type;
    header.len = static_cast<uint16_t>(sizeof header + body.size());
    info.append(reinterpret_cast<const char*>(&header), sizeof header);
    info += body;
  }
  fanotify_event_metadata meta{};
  meta.event_len = static_cast<uint32_t>(sizeof meta + info.size());
  meta.vers = FANOTIFY_METADATA_VERSION;
  meta.metadata_len = sizeof meta;
  meta.mask = event.mask;
  meta.fd = FAN_NOFD;
  meta.pid = event.pid;
  return std::string(reinterpret_cast<const char*>(&meta), sizeof meta) + info;
}

std::string_view fsid_of_key(std::string_view key) { return key.substr(0, kFsidBytes); }

std::string_view handle_of_key(std::string_view key) {
  return key.size() < kFsidBytes ? std::string_view() : key.substr(kFsidBytes);
}

RecordKinds fanotify_kinds_of(uint64_t m) {
  static constexpr std::array<std::pair<uint64_t, RecordKind>, 10> kKinds = {{
      {FAN_CREATE, RecordKind::kCreated},
      {FAN_OPEN, RecordKind::kOpened},
      {FAN_MODIFY, RecordKind::kModified},
      {FAN_CLOSE_WRITE, RecordKind::kClosedWrite},
      {FAN_CLOSE_NOWRITE, RecordKind::kClosedRead},
      {FAN_DELETE, RecordKind::kDeleted},
      {FAN_MOVED_FROM, RecordKind::kMovedFrom},
      {FAN_MOVED_TO, RecordKind::kMovedTo},
      {FAN_ATTRIB, RecordKind::kAttrib},
      {FAN_Q_OVERFLOW, RecordKind::kOverflow},
  }};
  RecordKinds kinds;
  for (const auto& [bits, kind] : kKinds) {
    if ((m & bits) != 0) kinds.add(kind);
  }
  return kinds;
}

}  // namespace folderhook::watch
