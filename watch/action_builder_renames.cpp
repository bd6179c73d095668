// ActionBuilder: renames that do not arrive as a MOVED_FROM/MOVED_TO pair. OpenSSH's
// sftp-server answers a plain rename request with link(old, new) + unlink(old), and so does
// `ln a b && rm a`: CREATE new (no OPEN, no CLOSE), then DELETE old, one inode. (nginx's
// rename of a WebDAV PUT's body, closed after its MOVED_TO: moved_in_files.h.)
#include <algorithm>

#include "watch/action_builder.h"

namespace folderhook::watch {

bool ActionBuilder::unlinked_after_link(const std::string& path, Timestamp now) {
  // Nothing created without an OPEN since the last look: the common delete costs nothing.
  if (!unopened_creates_) return false;
  // A link is a pending write that no OPEN followed, not reported yet (it waits out the settle
  // window). Looked for before the unlinked name is looked up: a delete after plain creates,
  // all named at their close, finds none and clears the flag.
  const auto is_candidate = [](const PendingWrite& w) {
    return w.is_new && !w.opened && !w.closed && !w.temp && !w.from_scan;
  };
  if (std::none_of(writes_.begin(), writes_.end(),
                   [&](const auto& w) { return is_candidate(w.second); })) {
    unopened_creates_ = false;
    return false;
  }
  const Entry* entry = table_.known(path);
  if (entry == nullptr || entry->kind != FileKind::kRegular || entry->ino == 0) return false;
  // Each candidate is stat()ed once, only when a delete comes while it waits.
  std::optional<std::string> link;
  for (auto& [name, write] : writes_) {
    if (!is_candidate(write) || name == path) continue;
    if (!write.link_ino) {
      const auto info = fs_.stat(name);
      write.link_ino = info && info->kind == FileKind::kRegular ? static_cast<uint32_t>(info->ino)
                                                                : 0;
    }
    if (*write.link_ino == entry->ino) {
      link = name;
      break;
    }
  }
  if (!link) return false;
  const Entry moved = *entry;
  writes_.erase(*link);
  table_.forget(path);
  emit(Action::kMove, path, *link, ObjectType::kFile, moved.uid, now.wall, actor_);
  table_.set_known(*link, moved);
  return true;
}

}  // namespace folderhook::watch
