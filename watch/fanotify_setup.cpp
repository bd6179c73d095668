// The fanotify backend's setup: what its kernel calls' refusals mean, and where a mark goes.
#include "watch/fanotify_setup.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace folderhook::watch {

std::string init_error(int err, bool without_target_fid) {
  switch (err) {
    case EPERM:
      return "fanotify needs CAP_SYS_ADMIN: run the agent as root";
    case ENOSYS:
      return "this kernel has no fanotify (CONFIG_FANOTIFY)";
    case EMFILE:
      return "too many fanotify groups (raise fs.fanotify.max_user_groups)";
    case EINVAL:
      return without_target_fid ? "kernel too old for FAN_REPORT_DFID_NAME (needs Linux 5.9)"
                                : "fanotify_init refused FAN_REPORT_TARGET_FID";
    default:
      return std::string("fanotify_init failed: ") + std::strerror(err);
  }
}

std::string mark_error(int err, const std::string& path) {
  switch (err) {
    case EXDEV:
      return "the filesystem of " + path +
             " refuses a filesystem mark (a btrfs subvolume or an overlay?)";
    case ENODEV:
    case EOPNOTSUPP:
      return "the filesystem of " + path + " cannot report file handles, which fanotify needs";
    case ENOSPC:
      return "fanotify mark limit reached (fs.fanotify.max_user_marks)";
    default:
      return "fanotify_mark on " + path + " failed: " + std::strerror(err);
  }
}

// fs.fanotify.max_queued_events: the kernel queue's size for a group made now (16,384 by
// default; a group without FAN_UNLIMITED_QUEUE gets what it was at fanotify_init).
std::size_t max_queued_events() {
  std::ifstream in("/proc/sys/fs/fanotify/max_queued_events");
  std::size_t value = 0;
  in >> value;
  return value > 0 ? value : 16384;
}

// The nearest existing directory at or above `path`: a missing root is marked through it.
std::string existing_ancestor(std::string path) {
  struct stat st {};
  while (!path.empty() && ::stat(path.c_str(), &st) != 0) {
    const auto slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
    if (slash == std::string::npos) return "/";
  }
  return path.empty() ? "/" : path;
}

}  // namespace folderhook::watch
