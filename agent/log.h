// Log: one JSON object per line, on stderr or agent.log_file. Thread-safe: watch/ calls it on
// the loop thread, delivery/ from its workers. write() formats the line into a string (cheaper
// than a copy of its fields) and queues it; the Log's own thread writes the queued lines in
// batches (one write(2) per batch), so a caller never blocks on the disk, lines keep the order
// of the write() calls, and lines from different threads never interleave. flush() and the
// destructor wait until every queued line is written; a crash (SIGKILL) loses at most the lines
// still queued.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace folderhook::agent {

// Makes any bytes printable as JSON: valid UTF-8 passes through, every other byte becomes the
// four characters \xNN, so a file name that is not UTF-8 is still shown exactly.
std::string printable_utf8(std::string_view bytes);

// Shows a value on one terminal line: control bytes and bytes that are not UTF-8 become
// escapes (\n, \t, \xNN), and the value is quoted when it holds a space or a quote.
std::string display_value(std::string_view bytes);

// A message for the terminal kept to one line, whatever a path in it holds: control bytes and
// bytes that are not UTF-8 become escapes (\n, \t, \xNN); nothing is quoted.
std::string one_terminal_line(std::string_view text);

// One JSON line (with its newline): {"level":…,"msg":…,"ts":…, ...fields} with the keys sorted
// (a field named like one of the three replaces it), every string made printable
// (printable_utf8). Written straight into a string: no JSON object is built for the line.
std::string format_json_line(std::chrono::system_clock::time_point ts, std::string_view level,
                             std::string_view msg, const nlohmann::json& fields);

// One field of a line given without a JSON object (Log::line_of): a string, an integer or
// a boolean, viewed (the caller's data must outlive the call).
struct LogField {
  enum class Kind { kString, kInt, kBool };
  std::string_view key;
  Kind kind = Kind::kString;
  std::string_view text;
  int64_t number = 0;

  static LogField str(std::string_view key, std::string_view value) {
    return {key, Kind::kString, value, 0};
  }
  static LogField num(std::string_view key, int64_t value) { return {key, Kind::kInt, {}, value}; }
  static LogField flag(std::string_view key, bool value) {
    return {key, Kind::kBool, {}, value ? 1 : 0};
  }
};

// The same line as format_json_line with a JSON object of these fields (distinct keys, in any
// order): the same bytes, with no object built.
std::string format_json_line(std::chrono::system_clock::time_point ts, std::string_view level,
                             std::string_view msg, std::span<const LogField> fields);

class Log {
 public:
  Log();
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // "" = stderr. Returns false and sets `error` when the file cannot be opened for appending.
  // Called again (SIGHUP, after logrotate moved the file) it reopens the path.
  bool open(const std::string& path, std::string& error);
  // text: "TS LEVEL MSG key=value ..." instead of JSON.
  void set_text(bool text);

  // Queues {"ts":…,"level":…,"msg":…, ...fields}; ts is the time of this call. `fields` must
  // be an object or null.
  void write(std::string_view level, std::string_view msg, const nlohmann::json& fields = {});
  // The line write() would queue (its time now), its fields given as views, for write_lines():
  // what a hot path logs (every delivery attempt). Many lines queued at once wake the log
  // thread once. Empty if it cannot be formatted.
  std::string line_of(std::string_view level, std::string_view msg,
                      std::span<const LogField> fields) const;
  void write_lines(std::vector<std::string>&& lines);
  // Returns once every line queued before the call is written.
  void flush();

 private:
  void run();
  void enqueue(std::string&& line);
  static std::string format(std::chrono::system_clock::time_point ts, std::string_view level,
                            std::string_view msg, const nlohmann::json& fields, bool text);

  std::mutex mutex_;  // guards everything below but fd_
  std::condition_variable queued_;
  std::condition_variable written_;
  std::vector<std::string> queue_;  // formatted lines, each with its newline
  uint64_t queued_count_ = 0;   // lines ever queued
  uint64_t written_count_ = 0;  // lines ever written (or dropped by a failed write)
  std::atomic<bool> text_{false};
  bool stopping_ = false;
  std::mutex fd_mutex_;  // held by the writer thread around write(2) and by open()
  int fd_ = 2;
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace folderhook::agent
