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

}  // namespace folderhook::watch
