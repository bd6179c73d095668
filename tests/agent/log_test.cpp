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
using folderhook::agent::one_terminal_line;
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

TEST_CASE("a terminal message stays one line: controls and bytes that are not UTF-8 escaped") {
  CHECK(one_terminal_line("folder path '/srv/a b' is fine") == "folder path '/srv/a b' is fine");
  CHECK(one_terminal_line("'/srv/in\nx\x1B[2J'") == "'/srv/in\\nx\\x1B[2J'");
  CHECK(one_terminal_line("tab\tcr\rdel\x7F") == "tab\\tcr\\rdel\\x7F");
  CHECK(one_terminal_line("caf\xC3\xA9 \xFF") == "caf\xC3\xA9 \\xFF");
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

namespace {

// The JSON object a list of LogFields stands for.
nlohmann::json object_of(const std::vector<folderhook::agent::LogField>& fields) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& f : fields) {
    switch (f.kind) {
      case folderhook::agent::LogField::Kind::kString: object[std::string(f.key)] = f.text; break;
      case folderhook::agent::LogField::Kind::kInt: object[std::string(f.key)] = f.number; break;
      case folderhook::agent::LogField::Kind::kBool: object[std::string(f.key)] = f.number != 0; break;
    }
  }
  return object;
}

// The line without its "ts …" start (text) or its "ts" value (JSON): what two calls share.
std::string without_time(const std::string& line) {
  if (line.rfind("{", 0) == 0) {
    const auto at = line.find("\"ts\":\"");
    return at == std::string::npos ? line : line.substr(0, at) + line.substr(at + 6 + 24 + 1);
  }
  return line.substr(line.find(' '));
}

}  // namespace

TEST_CASE("a line of field views is the line a JSON object of them would give") {
  using folderhook::agent::LogField;
  const auto ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764700000123));
  std::vector<LogField> many;
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("k" + std::to_string(39 - i));  // > the stack's 16
  for (int i = 0; i < 40; ++i) many.push_back(LogField::num(names[static_cast<size_t>(i)], i));
  const std::vector<std::vector<LogField>> cases = {
      {},
      {LogField::str("path", "/srv/a b\n\"q\"\\\x01\x7f\xC3\xA9\xFF"), LogField::num("status", 503),
       LogField::flag("catch_up", true), LogField::str("id", "d_1"), LogField::num("neg", -7),
       LogField::flag("no", false), LogField::str("error", "")},
      {LogField::str("zz", "last"), LogField::num("a", 1), LogField::str("m", "between")},
      {LogField::str("msg", "a field named msg"), LogField::num("ts", 5),
       LogField::str("level", "shadowed")},
      many,
  };
  for (const auto& fields : cases) {
    const nlohmann::json object = object_of(fields);
    CAPTURE(object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    CHECK(folderhook::agent::format_json_line(ts, "warn", "a msg \xFF", fields) ==
          folderhook::agent::format_json_line(ts, "warn", "a msg \xFF", object));
  }
}

TEST_CASE("lines queued together are written as write() writes them, in JSON and in text") {
  using folderhook::agent::LogField;
  const std::vector<LogField> fields = {LogField::str("path", "/a b\n\xFF"),
                                        LogField::num("status", 200),
                                        LogField::flag("catch_up", false)};
  for (const bool text : {false, true}) {
    CAPTURE(text);
    folderhook::test::TempDir dir;
    const std::string path = dir / "agent.log";
    folderhook::agent::Log log;
    std::string error;
    REQUIRE(log.open(path, error));
    log.set_text(text);
    log.write("info", "delivery", object_of(fields));
    std::vector<std::string> lines = {log.line_of("info", "delivery", fields),
                                      log.line_of("error", "second", {})};
    log.write_lines(std::move(lines));
    log.flush();
    std::ifstream in(path);
    std::string first, second, third;
    REQUIRE(std::getline(in, first));
    REQUIRE(std::getline(in, second));
    REQUIRE(std::getline(in, third));
    CHECK(without_time(second) == without_time(first));
    CHECK(third.find("second") != std::string::npos);
  }
}
