// Path algebra on the absolute, normalised paths (no trailing slash but "/") that watch/ names
// things by: pure, no system calls. Public to the agent, whose rules name folders the same way.
#pragma once

#include <string>
#include <string_view>

namespace folderhook::watch {

// True when `path` is `dir` or lies beneath it (component-wise: "/a/bc" is not within "/a/b").
inline bool path_is_within(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

// `path` with its leading `from` replaced by `to`; `path` must be within `from`.
inline std::string rebase_path(std::string_view path, std::string_view from,
                               std::string_view to) {
  std::string out(to);
  out.append(path.substr(from.size()));
  return out;
}

}  // namespace folderhook::watch
