// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with everything in it at the end.
// The one temporary-directory helper of every suite.
#pragma once

#include <string>

namespace folderhook::test {

class TempDir {
 public:
  // Makes it (mode 0700); throws std::runtime_error when it cannot.
  TempDir();
  // Its canonical path: what the agent reports of what is in it.
  const std::string& path() const { return path_; }
  // path() + "/" + relative
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }

  // Removes it with everything in it.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

 private:
  std::string path_;
};

// Writes `content` to `path` (creating or truncating it) and closes it.
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
// Runs a shell command line; returns its exit status.
int shell(const std::string& command);

}  // namespace folderhook::test
