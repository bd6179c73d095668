// Log: one JSON object per line, on stderr or agent.log_file. Thread-safe: watch/ calls it on
// the loop thread, delivery/ from its workers. Each line is written with one write(2), so
// lines from different threads never interleave.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace folderhook::agent {

// Makes any bytes printable as JSON: valid UTF-8 passes through, every other byte becomes the
// four characters \xNN, so a file name that is not UTF-8 is still shown exactly.
std::string printable_utf8(std::string_view bytes);

// Shows a value on one terminal line: control bytes and bytes that are not UTF-8 become
// escapes (\n, \t, \xNN), and the value is quoted when it holds a space or a quote.
std::string display_value(std::string_view bytes);

class Log {
 public:
  Log() = default;
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // "" = stderr. Returns false and sets `error` when the file cannot be opened for appending.
  // Called again (SIGHUP, after logrotate moved the file) it reopens the path.
  bool open(const std::string& path, std::string& error);
  // text: "TS LEVEL MSG key=value ..." instead of JSON.
  void set_text(bool text) { text_ = text; }

  // Writes {"ts":…,"level":…,"msg":…, ...fields}. `fields` must be an object or null.
  void write(std::string_view level, std::string_view msg, const nlohmann::json& fields = {});

 private:
  std::mutex mutex_;
  int fd_ = 2;
  bool text_ = false;
};

}  // namespace folderhook::agent
