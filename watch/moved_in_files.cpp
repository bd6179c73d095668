// MovedInFiles: a close by a descriptor opened before the rename (moved_in_files.h).
#include "watch/moved_in_files.h"

namespace folderhook::watch {

void MovedInFiles::moved_in(const std::string& path, uint64_t size, int64_t mtime_ns,
                            SteadyTime now) {
  files_[path] = Seen{size, mtime_ns, now + keep_};
}

bool MovedInFiles::close_adds_nothing(const std::string& path, uint64_t size, int64_t mtime_ns) {
  if (files_.empty()) return false;
  const auto it = files_.find(path);
  if (it == files_.end()) return false;
  // No OPEN of it since it moved in (that erases the entry): the descriptor was opened before
  // the rename, by whoever renamed it.
  if (size == it->second.size && mtime_ns == it->second.mtime_ns) return true;
  it->second.size = size;
  it->second.mtime_ns = mtime_ns;
  return false;
}

void MovedInFiles::trim(SteadyTime now) {
  std::erase_if(files_, [&](const auto& file) { return file.second.expires < now; });
}

}  // namespace folderhook::watch
