#include "agent/listen.h"
#include "agent/log.h"

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

using folderhook::agent::display_value;
using folderhook::agent::printable_utf8;

TEST_CASE("valid UTF-8 is shown as it is") {
  CHECK(printable_utf8("plain.txt") == "plain.txt");
  CHECK(printable_utf8("r\xC3\xA9sum\xC3\xA9.pdf") == "r\xC3\xA9sum\xC3\xA9.pdf");
  CHECK(printable_utf8("\xF0\x9F\x93\x81") == "\xF0\x9F\x93\x81");
}

TEST_CASE("bytes that are not UTF-8 are shown as \\xNN, each one") {
  CHECK(printable_utf8("a\xFF" "b") == "a\\xFFb");
  CHECK(printable_utf8("\xC3") == "\\xC3");              // truncated sequence
  CHECK(printable_utf8("\xC0\xAF") == "\\xC0\\xAF");     // overlong '/'
  CHECK(printable_utf8("\xED\xA0\x80") == "\\xED\\xA0\\x80");  // a surrogate
}

TEST_CASE("listen shows a value on one line, quoting spaces and escaping controls") {
  CHECK(display_value("a.txt") == "a.txt");
  CHECK(display_value("my file.txt") == "\"my file.txt\"");
  CHECK(display_value("two\nlines") == "two\\nlines");
  CHECK(display_value("bell\x07") == "bell\\x07");
  CHECK(display_value("\xFE") == "\\xFE");
  CHECK(display_value("") == "\"\"");
}

namespace {

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("every line queued before the log is destroyed is written, in each thread's order") {
  folderhook::test::TempDir dir;
  const std::string path = dir / "agent.log";
  constexpr int kPerThread = 5000;
  {
    folderhook::agent::Log log;
    std::string error;
    REQUIRE(log.open(path, error));
    auto writer = [&log](int thread) {
      for (int i = 0; i < kPerThread; ++i) log.write("info", "line", {{"thread", thread}, {"i", i}});
    };
    std::thread a(writer, 0), b(writer, 1);
    a.join();
    b.join();
  }  // no flush(): the destructor drains the queue
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 2 * kPerThread);
  int next[2] = {0, 0};
  for (const auto& line : lines) {
    const int t = line["thread"];
    CHECK(line["i"] == next[t]);
    ++next[t];
  }
  CHECK(next[0] == kPerThread);
  CHECK(next[1] == kPerThread);
}

TEST_CASE("flush returns once the queued lines are in the file, with the time of the call") {
  folderhook::test::TempDir dir;
  const std::string path = dir / "agent.log";
  folderhook::agent::Log log;
  std::string error;
  REQUIRE(log.open(path, error));
  log.write("warn", "first \xFF", {{"path", "a\xFE"}});
  log.write("info", "second");
  log.flush();
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["msg"] == "first \\xFF");
  CHECK(lines[0]["path"] == "a\\xFE");
  CHECK(lines[0]["level"] == "warn");
  CHECK(lines[1]["msg"] == "second");
  CHECK(lines[0]["ts"].get<std::string>().size() == 24);  // 2026-01-02T03:04:05.678Z
}
