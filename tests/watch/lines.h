// Lines: actions as one readable line each, printed in full when an assertion fails; and
// paths_of, the paths of a list of actions or moves.
#pragma once

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& lines) {
    std::string out = "{";
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? ", \"" : "\"") + lines[i] + "\"";
    return (out + "}").c_str();
  }
};
}  // namespace doctest

namespace folderhook::watch::testing {

// The `path` of each item (a FileAction, a PendingMove...), in order.
template <typename Item>
std::vector<std::string> paths_of(const std::vector<Item>& items) {
  std::vector<std::string> paths;
  for (const Item& item : items) paths.push_back(item.path);
  return paths;
}

}  // namespace folderhook::watch::testing
