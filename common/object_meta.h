// ObjectMeta: what the index of the watched trees records of a file or directory, declared here
// so that watch/ (FileMeta, its index) and delivery/ (IndexRow, the stored row) share one
// definition and agent/ converts between them by copying it whole (agent/index_sync.cpp).
// Enough to recognise an object again after the fact: same dev and inode, the same object;
// same size and mtime, the same content. A plain value; header only.
#pragma once

#include <cstdint>

namespace folderhook {

struct ObjectMeta {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  // For a directory, 0 unless its ctime was at least kTrustedAge old when it was read: only
  // then may a later scan trust an unchanged ctime to mean an unchanged listing (watch/index.h).
  int64_t ctime_ns = 0;
  uint32_t uid = 0;
  // Recorded only in a folder with `permissions = true` (watch/permissions.h), so that a change
  // made while nothing watched (the agent stopped, a queue overflow) is told after the fact:
  // `permissions` says the three below are known. Unknown (a folder without the key, a row
  // written before they were kept) is never compared, only recorded; delivery/ stores them as
  // NULL.
  bool permissions = false;
  uint32_t mode = 0;  // st_mode & 07777
  uint32_t gid = 0;
  uint64_t acl = 0;   // Permissions::acl
  bool operator==(const ObjectMeta&) const = default;
};

}  // namespace folderhook
