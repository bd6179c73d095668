// glob_match: shell-style globs over '/'-separated paths, pure and allocation-free.
//   *      any run of characters except '/'
//   **     any run of characters including '/'; "**/" also matches zero directories
//   ?      one character except '/'
//   [abc] [a-z] [!a] [^a]   one character (never '/') in or not in the class
//   \c     the character c literally
// An unterminated '[' is a literal. Matching is on raw bytes (no locale, no case folding).
#pragma once

#include <string_view>

namespace folderhook::watch {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace folderhook::watch
