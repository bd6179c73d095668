// The permission bits of a file, and a umask set for one scope: for the tests that show what the
// agent's files are readable by, whatever the umask it was started with. Header-only.
#pragma once

#include <sys/stat.h>

#include <doctest/doctest.h>

#include <string>

namespace folderhook::test {

// The permission bits of `path` itself (a symlink is not followed); fails the test if it is gone.
inline unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, path);
  return st.st_mode & 07777;
}

// Sets the process's umask until the end of the scope. The umask is per process: children
// started meanwhile inherit it.
class UmaskFor {
 public:
  explicit UmaskFor(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskFor() { ::umask(old_); }
  UmaskFor(const UmaskFor&) = delete;
  UmaskFor& operator=(const UmaskFor&) = delete;

 private:
  mode_t old_;
};

}  // namespace folderhook::test
