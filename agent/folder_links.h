// Folders given as symlinks: the operator may name a folder by a symlink (/srv/upload ->
// /data/upload). The watcher watches real directories and names what it sees by their paths,
// so at start and at each reload every folder is resolved to the directory it points to,
// that directory is watched, and every path the watcher reports is mapped back to the configured
// name before it is routed. Only a folder's own path is resolved: a symlink beneath a folder
// is never followed (beneath.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "watch/file_action.h"

namespace folderhook::agent {

// A folder as the rules name it (`path`) and the directory watched for it (`watched`).
struct FolderLink {
  std::string path;
  std::string watched;
};
using FolderLinks = std::vector<FolderLink>;

// Each folder, in the rules' order: a folder whose path is itself a symlink is watched as
// the directory it resolves to (realpath); any other as its path, as before (a symlink above
// it changes nothing: the watcher names what it sees by the path it was given). A symlink that
// points nowhere is followed as far as it goes: its target is watched when it appears, like
// any missing folder. Touches the filesystem.
FolderLinks resolve_folder_links(const std::vector<FolderRule>& folders);

// Pure. `path` as the watcher names it -> as the rules name it (moved from the innermost
// watched directory that holds it), and back. A path under no folder is unchanged.
std::string to_configured(const FolderLinks& links, std::string_view path);
std::string to_watched(const FolderLinks& links, std::string_view path);
// The directory watched for the folder the rules name `path` (`path` itself if none).
const std::string& watched_of(const FolderLinks& links, const std::string& path);

// True when some folder is watched under another path than its configured one.
bool any_folder_link(const FolderLinks& links);

// The action with its path and destination mapped to_configured.
watch::FileAction configured_action(const FolderLinks& links, watch::FileAction action);

}  // namespace folderhook::agent
