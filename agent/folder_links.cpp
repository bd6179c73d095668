#include "agent/folder_links.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

#include "watch/paths.h"

namespace folderhook::agent {
namespace {

constexpr int kMaxHops = 40;  // as the kernel's MAXSYMLINKS

std::string normal(const std::string& path) {
  std::string out = std::filesystem::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// `path` with its symlinks resolved; a dangling one is followed as far as it points.
std::string resolve(const std::string& path) {
  std::string current = path;
  for (int hop = 0; hop < kMaxHops; ++hop) {
    if (char* real = ::realpath(current.c_str(), nullptr)) {
      std::string out(real);
      std::free(real);
      return out;
    }
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) break;
    char target[PATH_MAX];
    const ssize_t n = ::readlink(current.c_str(), target, sizeof target - 1);
    if (n <= 0) break;
    const std::string to(target, static_cast<size_t>(n));
    current = normal(to.front() == '/' ? to : current.substr(0, current.rfind('/') + 1) + to);
  }
  return current;
}

// `path` moved from the innermost link whose `from` directory holds it to its `to` one.
std::string rebase(const FolderLinks& links, std::string_view path, std::string FolderLink::*from,
                   std::string FolderLink::*to) {
  const FolderLink* best = nullptr;
  for (const FolderLink& link : links) {
    const std::string& dir = link.*from;
    if (watch::path_is_within(path, dir) && (!best || dir.size() > ((*best).*from).size())) {
      best = &link;
    }
  }
  if (!best || best->*from == best->*to) return std::string(path);
  return watch::rebase_path(path, best->*from, best->*to);
}

}  // namespace

FolderLinks resolve_folder_links(const std::vector<FolderRule>& folders) {
  FolderLinks links;
  for (const FolderRule& folder : folders) {
    struct stat st {};
    const bool is_link = ::lstat(folder.path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    links.push_back({folder.path, is_link ? resolve(folder.path) : folder.path});
  }
  return links;
}

std::string to_configured(const FolderLinks& links, std::string_view path) {
  return rebase(links, path, &FolderLink::watched, &FolderLink::path);
}

std::string to_watched(const FolderLinks& links, std::string_view path) {
  return rebase(links, path, &FolderLink::path, &FolderLink::watched);
}

const std::string& watched_of(const FolderLinks& links, const std::string& path) {
  for (const FolderLink& link : links) {
    if (link.path == path) return link.watched;
  }
  return path;
}

bool any_folder_link(const FolderLinks& links) {
  for (const FolderLink& link : links) {
    if (link.watched != link.path) return true;
  }
  return false;
}

watch::FileAction configured_action(const FolderLinks& links, watch::FileAction action) {
  action.path = to_configured(links, action.path);
  if (!action.destination.empty()) action.destination = to_configured(links, action.destination);
  return action;
}

}  // namespace folderhook::agent
