#include "agent/listen.h"
#include "agent/log.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <functional>
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

namespace {

// The line as the log built it before format_json_line: one JSON object of every key, each
// string made printable, dumped. format_json_line must give the same bytes.
std::string line_as_one_object(std::chrono::system_clock::time_point ts, const std::string& iso,
                               std::string_view level, std::string_view msg,
                               const nlohmann::json& fields) {
  (void)ts;
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = iso;
  line["level"] = std::string(level);
  line["msg"] = printable_utf8(msg);
  for (const auto& [key, value] : fields.items()) {
    nlohmann::json copy = value;
    std::function<void(nlohmann::json&)> printable = [&](nlohmann::json& v) {
      if (v.is_string()) {
        v = printable_utf8(v.get_ref<const std::string&>());
      } else if (v.is_structured()) {
        for (auto& item : v) printable(item);
      }
    };
    printable(copy);
    line[key] = std::move(copy);
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

TEST_CASE("a JSON line written straight is the line one JSON object would give") {
  const auto ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764700000123));
  const std::string iso = "2025-12-02T18:26:40.123Z";
  const std::vector<nlohmann::json> cases = {
      nullptr,
      nlohmann::json::object(),
      {{"id", "d_1"}, {"outcome", "delivered"}, {"attempt", 1}, {"status", 200}, {"ms", 0.25},
       {"catch_up", false}, {"error", ""}, {"path", "/srv/a b\n\"q\"\\\x01\x7f\xC3\xA9\xFF"}},
      {{"a", 1}, {"zz", "last"}, {"m", -3}, {"n", nullptr}},                  // around the fixed keys
      {{"msg", "a field named msg"}, {"ts", 5}, {"level", "shadowed"}},     // fields win
      {{"list", {"x\xFE", 2, {{"k", "\t"}}}}, {"obj", {{"b", true}, {"a", "\xC0\xAF"}}}},
      {{"big", 18446744073709551615ULL}, {"neg", -9223372036854775807LL}, {"f", 1e300}},
  };
  for (const nlohmann::json& fields : cases) {
    CAPTURE(fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    CHECK(folderhook::agent::format_json_line(ts, "info", "a \x01 msg \xFF", fields) ==
          line_as_one_object(ts, iso, "info", "a \x01 msg \xFF", fields));
  }
}
