// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with everything in it at the end.
#pragma once

#include <string>

namespace folderhook::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + relative
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Writes `content` to `path` (creating or truncating it) and closes it.
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
// Runs a shell command line; returns its exit status.
int shell(const std::string& command);

}  // namespace folderhook::test
