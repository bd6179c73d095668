#include "watch/glob.h"

#include <cstddef>

namespace folderhook::watch {
namespace {

// Matches one bracket class at pattern[0] == '['. Returns how many pattern bytes the class
// spans, or 0 when it is unterminated (then '[' is a literal).
std::size_t match_class(std::string_view pattern, char c, bool& matched) {
  std::size_t i = 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool found = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      if (hi == '\\' && i + 3 < pattern.size()) {
        hi = pattern[i + 3];
        ++i;
      }
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= u && u <= static_cast<unsigned char>(hi)) found = true;
    ++i;
  }
  if (i >= pattern.size()) return 0;
  matched = c != '/' && (found != negate);
  return i + 1;
}

bool match(std::string_view p, std::string_view t) {
  while (!p.empty()) {
    if (p.substr(0, 2) == "**") {
      std::string_view rest = p.substr(2);
      while (rest.substr(0, 1) == "*") rest.remove_prefix(1);
      if (rest.substr(0, 1) == "/") {
        // "**/R": R at the start, or R after any '/'.
        const std::string_view after = rest.substr(1);
        if (match(after, t)) return true;
        for (std::size_t i = 0; i < t.size(); ++i) {
          if (t[i] == '/' && match(after, t.substr(i + 1))) return true;
        }
        return false;
      }
      for (std::size_t i = 0; i <= t.size(); ++i) {
        if (match(rest, t.substr(i))) return true;
      }
      return false;
    }
    switch (p[0]) {
      case '*':
        for (std::size_t i = 0; i <= t.size(); ++i) {
          if (match(p.substr(1), t.substr(i))) return true;
          if (i < t.size() && t[i] == '/') break;
        }
        return false;
      case '?':
        if (t.empty() || t[0] == '/') return false;
        p.remove_prefix(1);
        t.remove_prefix(1);
        continue;
      case '[': {
        if (t.empty()) return false;
        bool matched = false;
        const std::size_t span = match_class(p, t[0], matched);
        if (span != 0) {
          if (!matched) return false;
          p.remove_prefix(span);
          t.remove_prefix(1);
          continue;
        }
        break;  // literal '['
      }
      case '\\':
        if (p.size() > 1) p.remove_prefix(1);
        break;
      default:
        break;
    }
    if (t.empty() || p[0] != t[0]) return false;
    p.remove_prefix(1);
    t.remove_prefix(1);
  }
  return t.empty();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) { return match(pattern, text); }

}  // namespace folderhook::watch
