// Lines: actions as one readable line each, printed in full when an assertion fails.
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
