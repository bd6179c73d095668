// TempFolder: a fresh directory under /tmp for a kernel test of watch/, removed with what is
// in it at the end (the watch suite does not link tests/support).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include <doctest/doctest.h>

namespace folderhook::watch::testing {

struct TempFolder {
  TempFolder() {
    char pattern[] = "/tmp/folderhook-watch-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempFolder() { std::filesystem::remove_all(path); }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  std::string path;
};

}  // namespace folderhook::watch::testing
