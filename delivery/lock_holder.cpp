#include "delivery/lock_holder.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace folderhook::delivery {

int flock_holder(std::string_view proc_locks, unsigned major, unsigned minor, uint64_t inode) {
  // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF": the device in hex, the inode in decimal.
  std::istringstream lines{std::string(proc_locks)};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string ordinal, kind, mode, access, file;
    long pid = 0;
    if (!(words >> ordinal >> kind) || kind != "FLOCK") continue;  // "->" marks a waiter
    if (!(words >> mode >> access >> pid >> file) || pid <= 0) continue;
    unsigned file_major = 0, file_minor = 0;
    unsigned long long file_inode = 0;
    if (std::sscanf(file.c_str(), "%x:%x:%llu", &file_major, &file_minor, &file_inode) != 3) {
      continue;
    }
    if (file_major == major && file_minor == minor && file_inode == inode) {
      return static_cast<int>(pid);
    }
  }
  return 0;
}

int state_dir_holder(const std::string& state_dir, std::string& error) {
  const std::string path = state_dir + "/lock";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return 0;
    error = "cannot stat " + path + ": " + std::strerror(errno);
    return -1;
  }
  std::ifstream in("/proc/locks");
  if (!in) {
    error = "cannot read /proc/locks";
    return -1;
  }
  std::stringstream text;
  text << in.rdbuf();
  return flock_holder(text.str(), ::major(st.st_dev), ::minor(st.st_dev), st.st_ino);
}

}  // namespace folderhook::delivery
