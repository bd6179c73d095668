#include "delivery/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace folderhook::delivery {
namespace {

namespace fs = std::filesystem;

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// What makes an existing path unfit to be the state_dir, as a clause after its name; "" if fit.
std::string existing_problem(const std::string& dir, const struct stat& st) {
  if (!S_ISDIR(st.st_mode)) return "is not a directory";
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return "can be written by other users (mode " + octal(st.st_mode) +
           "): they could replace the outbox; chmod go-w it, or choose another state_dir";
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return std::string("is not writable (") + std::strerror(errno) + ")";
  }
  return "";
}

}  // namespace

std::string state_dir_problem(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return existing_problem(dir, st);
  if (errno != ENOENT && errno != ENOTDIR) {
    return std::string("cannot be used (") + std::strerror(errno) + ")";
  }
  // The first missing component: creating it is what `run` would do first.
  fs::path missing(dir);
  for (fs::path parent = missing.parent_path(); parent != missing;
       parent = parent.parent_path()) {
    if (::stat(parent.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return "cannot be created: '" + parent.string() + "' is not a directory";
      break;
    }
    if (errno != ENOENT && errno != ENOTDIR) break;  // mkdir below says why
    missing = parent;
  }
  if (::mkdir(missing.c_str(), kStateDirMode) != 0) {
    return "cannot be created (" + missing.string() + ": " + std::strerror(errno) + ")";
  }
  ::rmdir(missing.c_str());
  return "";
}

bool create_state_dir(const std::string& dir, std::string& error) {
  const fs::path path(dir);
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (!ec && ::mkdir(dir.c_str(), kStateDirMode) == 0) {
    // mkdir's mode passed through the umask, which may have taken the owner's bits too.
    if (::chmod(dir.c_str(), kStateDirMode) == 0) return true;
    ec.assign(errno, std::generic_category());
  } else if (!ec && errno == EEXIST && fs::is_directory(path, ec)) {
    return true;
  } else if (!ec) {
    ec.assign(errno, std::generic_category());
  }
  error = "cannot create state_dir '" + dir + "': " + ec.message();
  return false;
}

bool prepare_state_dir(const std::string& dir, std::vector<std::string>& tightened,
                       std::string& error) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return create_state_dir(dir, error);
    error = "state_dir '" + dir + "' cannot be used (" + std::strerror(errno) + ")";
    return false;
  }
  // Only here, not in state_dir_problem: `status` or `check` run by root on the state_dir of an
  // agent that runs as its own user is fine; an agent that would trust another user's files
  // is not.
  if (S_ISDIR(st.st_mode) && st.st_uid != ::geteuid()) {
    error = "state_dir '" + dir + "' belongs to uid " + std::to_string(st.st_uid) +
            ", not to the agent's user (uid " + std::to_string(::geteuid()) +
            "): that user could read or replace the outbox; chown it or choose another state_dir";
    return false;
  }
  if (const std::string problem = existing_problem(dir, st); !problem.empty()) {
    error = "state_dir '" + dir + "' " + problem;
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    if (::chmod(dir.c_str(), kStateDirMode) != 0) {
      error = "cannot chmod state_dir '" + dir + "' to 0700: " + std::strerror(errno);
      return false;
    }
    tightened.push_back(dir + ": " + octal(st.st_mode) + " -> " + octal(kStateDirMode));
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* listing = fd < 0 ? nullptr : ::fdopendir(fd);
  if (!listing) {
    if (fd >= 0) ::close(fd);
    error = "cannot list state_dir '" + dir + "': " + std::strerror(errno);
    return false;
  }
  // Only the agent's user can write here (checked above), so a name lstat'ed as a regular file
  // is still one when it is chmod'ed.
  while (const dirent* entry = ::readdir(listing)) {
    struct stat file {};
    if (::fstatat(fd, entry->d_name, &file, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(file.st_mode) || file.st_uid != ::geteuid() || (file.st_mode & 077) == 0) continue;
    if (::fchmodat(fd, entry->d_name, kStateFileMode, 0) != 0) {
      error = "cannot chmod '" + dir + "/" + entry->d_name + "' to 0600: " + std::strerror(errno);
      ::closedir(listing);
      return false;
    }
    tightened.push_back(dir + "/" + entry->d_name + ": " + octal(file.st_mode) + " -> " +
                        octal(kStateFileMode));
  }
  ::closedir(listing);
  return true;
}

int open_private_file(const std::string& path, int flags, std::string& error) {
  const int fd = ::open(path.c_str(), flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, kStateFileMode);
  if (fd < 0) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 ||
      ((st.st_mode & 0777) != kStateFileMode && ::fchmod(fd, kStateFileMode) != 0)) {
    error = "cannot make '" + path + "' 0600: " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

bool replace_private_file(const std::string& path, std::string_view bytes, std::string& error) {
  const std::string temp = path + ".tmp";
  const int fd = open_private_file(temp, O_WRONLY | O_TRUNC, error);
  if (fd < 0) return false;
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write '" + temp + "': " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    error = "cannot rename '" + temp + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace folderhook::delivery
