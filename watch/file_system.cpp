#include "watch/file_system.h"

namespace folderhook::watch {

std::vector<DirEntry> FileSystem::list_stat(const std::string& dir) {
  std::vector<DirEntry> out;
  for (std::string& name : list(dir)) {
    const auto info = stat(dir == "/" ? "/" + name : dir + "/" + name);
    if (info) out.push_back({std::move(name), *info});  // gone since the listing: left out
  }
  return out;
}

std::string FileSystem::group_name(gid_t gid) { return std::to_string(gid); }

std::optional<Permissions> FileSystem::permissions(const std::string& /*root*/,
                                                   const std::string& path) {
  const auto info = stat(path);
  if (!info) return std::nullopt;
  return Permissions{info->mode, info->uid, info->gid, 0};
}

}  // namespace folderhook::watch
