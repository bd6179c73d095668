#include "watch/glob.h"

#include <doctest/doctest.h>

namespace folderhook::watch {

TEST_CASE("glob patterns match file names and relative paths as a shell would") {
  struct Row {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Row rows[] = {
      {"*.part", "movie.part", true},
      {"*.part", "movie.part2", false},
      {"*.part", "dir/movie.part", false},  // * does not cross '/'
      {"*.tmp", ".tmp", true},
      {".*.??????", ".up.bin.x9PN0B", true},  // rsync's temp name
      {".*.??????", "up.bin", false},
      {".*.??????", ".up.bin.x9PN0", false},
      {"?", "a", true},
      {"?", "/", false},
      {"?", "", false},
      {"**", "a/b/c", true},
      {"**", "", true},
      {"**/*.log", "x.log", true},  // **/ matches zero directories
      {"**/*.log", "a/b/x.log", true},
      {"**/*.log", "a/b/x.txt", false},
      {"a/**/z", "a/z", true},
      {"a/**/z", "a/b/c/z", true},
      {"a/**/z", "ab/z", false},
      {"a/**", "a/b/c", true},
      {"a/**", "b/a/c", false},
      {"incoming/*", "incoming/x", true},
      {"incoming/*", "incoming/x/y", false},
      {"[abc].txt", "b.txt", true},
      {"[abc].txt", "d.txt", false},
      {"[!a].txt", "a.txt", false},
      {"[!a].txt", "b.txt", true},
      {"[^a].txt", "b.txt", true},
      {"[a-c]x", "bx", true},
      {"[a-c]x", "dx", false},
      {"[]]", "]", true},
      {"[!]]", "a", true},
      {"a[/]b", "a/b", false},  // a class never matches '/'
      {"[ab", "[ab", true},      // unterminated: literal
      {"\\*", "*", true},
      {"\\*", "a", false},
      {"*", "", true},
      {"", "", true},
      {"", "a", false},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "aXbY", false},
      {"caf\xc3\xa9*", "caf\xc3\xa9.txt", true},  // raw bytes, no locale
  };
  for (const Row& row : rows) {
    CAPTURE(row.pattern);
    CAPTURE(row.text);
    CHECK(glob_match(row.pattern, row.text) == row.match);
  }
}

}  // namespace folderhook::watch
