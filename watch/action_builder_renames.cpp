// ActionBuilder: renames that do not arrive as a MOVED_FROM/MOVED_TO pair. OpenSSH's
// sftp-server answers a plain rename request with link(old, new) + unlink(old), and so does
// `ln a b && rm a`: CREATE new (no OPEN, no CLOSE), then DELETE old, one inode. (nginx's
// rename of a WebDAV PUT's body, closed after its MOVED_TO: moved_in_files.h.)
#include "watch/action_builder.h"

namespace folderhook::watch {

bool ActionBuilder::unlinked_after_link(const std::string& path, Timestamp now) {
  // A link is a pending write that no OPEN followed, not reported yet (it waits out the settle
  // window). Looked for before the unlinked name is looked up: a delete after plain creates,
  // all named at their close, finds none and clears the flag.
  if (!pending_.may_hold_link()) return false;
  const Entry* entry = table_.known(path);
  if (entry == nullptr || entry->kind != FileKind::kRegular || entry->ino == 0) return false;
  // Each candidate is stat()ed once, only when a delete comes while it waits.
  const std::optional<std::string> link =
      pending_.find_link(path, entry->ino, [&](const std::string& name) -> uint32_t {
        const auto info = fs_.stat(name);
        return info && info->kind == FileKind::kRegular ? static_cast<uint32_t>(info->ino) : 0;
      });
  if (!link) return false;
  const Entry moved = *entry;
  pending_.take_write(*link);
  table_.forget(path);
  emit(Action::kMove, path, *link, ObjectType::kFile, moved.uid, now.wall, actor_);
  table_.set_known(*link, moved);
  return true;
}

}  // namespace folderhook::watch
