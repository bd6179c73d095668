// The watch engine's scenarios through the whole product: real commands on a real folder, the
// real binary, a real receiver, and the exact sequence of decoded webhooks.
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/support/running_agent.h"

using namespace folderhook::test;

namespace {

std::vector<std::string> sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE("scenario: cp inside the folder is one copy from the source") {
  RunningAgent r;
  write_file(r.in + "/a.csv", "same bytes");
  r.nth(1);
  REQUIRE(shell("cp " + r.in + "/a.csv " + r.in + "/b.csv") == 0);
  r.nth(2);
  CHECK(r.operations() == std::vector<std::string>{"create /a.csv", "copy /a.csv /b.csv"});
}

TEST_CASE("scenario: cp -r copies each file once and creates each directory") {
  RunningAgent r;
  REQUIRE(shell("mkdir -p " + r.in + "/src/sub && printf one > " + r.in + "/src/x && printf two > " +
                r.in + "/src/sub/y") == 0);
  r.nth(4);
  REQUIRE(shell("cp -r " + r.in + "/src " + r.in + "/dst") == 0);
  r.nth(8);
  const std::vector<std::string> all = r.operations();
  CHECK(sorted({all.begin() + 4, all.end()}) ==
        sorted({"create /dst", "create /dst/sub", "copy /src/x /dst/x", "copy /src/sub/y /dst/sub/y"}));
}

TEST_CASE("scenario: rsync's temporary upload is one create under the final name") {
  TempDir outside;
  write_file(outside / "up.bin", "uploaded content");
  RunningAgent r;
  REQUIRE(shell("rsync " + outside / "up.bin " + r.in + "/up.bin") == 0);
  r.nth(1);
  write_file(r.in + "/marker", "x");  // everything before it has been reported by now
  r.nth(2);
  CHECK(r.operations() == std::vector<std::string>{"create /up.bin", "create /marker"});
}

TEST_CASE("scenario: an upload to a .part name, renamed at the end, is one create") {
  RunningAgent r;
  REQUIRE(shell("printf data > " + r.in + "/report.csv.part && mv " + r.in + "/report.csv.part " +
                r.in + "/report.csv") == 0);
  r.nth(1);
  write_file(r.in + "/marker", "x");
  r.nth(2);
  CHECK(r.operations() == std::vector<std::string>{"create /report.csv", "create /marker"});
}

TEST_CASE("scenario: rm -rf reports every file and directory, deepest first") {
  RunningAgent r;
  REQUIRE(shell("mkdir -p " + r.in + "/t/u && printf 1 > " + r.in + "/t/u/f && printf 2 > " + r.in +
                "/t/g") == 0);
  r.nth(4);
  REQUIRE(shell("rm -rf " + r.in + "/t") == 0);
  r.nth(8);
  const std::vector<std::string> all = r.operations();
  const std::vector<std::string> removed(all.begin() + 4, all.end());
  CHECK(sorted(removed) == sorted({"destroy /t/u/f", "destroy /t/g", "destroy /t/u", "destroy /t"}));
  CHECK(removed.back() == "destroy /t");
  const auto pos = [&](const std::string& s) { return std::find(removed.begin(), removed.end(), s); };
  CHECK(pos("destroy /t/u/f") < pos("destroy /t/u"));
}

TEST_CASE("scenario: a file moved out of every folder is destroy, one moved in is create") {
  TempDir outside;
  RunningAgent r;
  write_file(r.in + "/leaving", "x");
  r.nth(1);
  REQUIRE(shell("mv " + r.in + "/leaving " + outside / "gone") == 0);
  REQUIRE(shell("mv " + outside / "gone " + r.in + "/back") == 0);
  r.nth(3);
  CHECK(r.operations() ==
        std::vector<std::string>{"create /leaving", "destroy /leaving", "create /back"});
}

TEST_CASE("scenario: cat of a file is a read, and a directory listing is not") {
  RunningAgent r;
  write_file(r.in + "/doc.txt", "text");
  r.nth(1);
  REQUIRE(shell("ls " + r.in + " > /dev/null && cat " + r.in + "/doc.txt > /dev/null") == 0);
  r.nth(2);
  CHECK(r.operations() == std::vector<std::string>{"create /doc.txt", "read /doc.txt"});
}
