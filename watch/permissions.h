// Permissions: what `permissions = true` compares to tell a change of mode, owner, group or ACL
// from everything else the kernel also reports as an attribute change (touch and utimes, a
// write that moves the mtime or clears setuid, a link count). The builder keeps the values last
// seen per path in a PermissionBook, only for paths in folders that asked, and reports a change
// only when they differ. Pure: no I/O (the values come from FileSystem::permissions()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::watch {

struct Permissions {
  uint32_t mode = 0;  // st_mode & 07777
  uint32_t uid = 0;
  uint32_t gid = 0;
  // A hash of the exact bytes of system.posix_acl_access and system.posix_acl_default; 0 when
  // the object has neither (its ACL is its mode).
  uint64_t acl = 0;
  bool operator==(const Permissions&) const = default;
};

// "0640", "4755": the permission bits in octal, at least four digits.
std::string format_mode(uint32_t mode);

// The deepest of `roots` (absolute, normalised) that holds `path` beneath it (the root itself is
// not in it); nullptr when none.
const std::string* permission_root_of(const std::vector<std::string>& roots,
                                      std::string_view path);

class PermissionBook {
 public:
  // Records `now` for `path`. True when something was recorded there before and differs: a
  // change to report. Nothing recorded (an object never seen): false, it is only recorded.
  bool changed(const std::string& path, const Permissions& now);
  void record(const std::string& path, const Permissions& now) { book_[path] = now; }
  std::optional<Permissions> find(const std::string& path) const;
  // Forgets `path` and everything beneath it.
  void erase_tree(const std::string& path);
  // `from` and everything beneath it now live at `to` (what was at `to` is replaced).
  void move_tree(const std::string& from, const std::string& to);
  std::size_t size() const { return book_.size(); }

 private:
  std::map<std::string, Permissions> book_;  // ordered: a tree is one range of keys
};

}  // namespace folderhook::watch
