// FanotifyEvent: one fanotify event as read from a FAN_REPORT_DFID_NAME | FAN_REPORT_FID group,
// decoded without interpretation. decode_fanotify_events is pure: the bytes of one read() in,
// events out; encode_fanotify_event is its inverse, for tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// The fsid part and the struct file_handle part of a key (for open_by_handle_at).
std::string_view fsid_of_key(std::string_view key);
std::string_view handle_of_key(std::string_view key);

// The inotify bits (watch/inotify_record.h vocabulary) for the fanotify bits of `mask` that
// the ActionBuilder understands: CREATE, DELETE, OPEN, CLOSE_*, MOVED_*, ONDIR -> ISDIR.
uint32_t inotify_mask_of(uint64_t fanotify_mask);

}  // namespace folderhook::watch
