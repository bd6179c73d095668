// RawRecord: one inotify_event as read from the descriptor, decoded without interpretation.
// decode_inotify_records is pure: it turns the bytes of one read() into records, and
// inotify_record_of translates one into the builder's vocabulary (watch/record.h): the inotify
// backend's edge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "watch/record.h"

namespace folderhook::watch {

struct RawRecord {
  int wd = -1;
  uint32_t mask = 0;
  uint32_t cookie = 0;
  std::string name;  // entry name inside the watched directory; empty for the directory itself
};

// Decodes every complete record in `bytes`; a truncated trailing record is dropped (read()
// never returns one, but a corrupt length must not read out of bounds).
std::vector<RawRecord> decode_inotify_records(std::string_view bytes);

// The inverse, for tests and fakes: the bytes the kernel would produce for `record`.
std::string encode_inotify_record(const RawRecord& record);

// The Record for `raw` (wd, name, cookie kept; the mask as kinds and is_dir). A marker record
// of our own is not told here: it is an IN_ATTRIB like any other (RealFileSystem::translate).
Record inotify_record_of(const RawRecord& raw);
// The kinds that the bits of an inotify mask say (IN_ACCESS, IN_CLOSE... flags: none).
RecordKinds inotify_kinds_of(uint32_t mask);

// True for a record that only says a directory was opened, read or closed without writing: a
// listing, which names no operation (the builder ignores it). Such records are what a walk's
// own listings produce.
bool is_listing_record(uint32_t mask);

// "CREATE|ISDIR" etc., for debug logs and test failure messages.
std::string describe_mask(uint32_t mask);

}  // namespace folderhook::watch
