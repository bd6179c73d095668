#include "agent/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace folderhook::agent {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t code = 0;
  if ((c & 0xE0) == 0xC0) n = 2, code = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, code = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, code = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  const bool overlong = (n == 2 && code < 0x80) || (n == 3 && code < 0x800) ||
                        (n == 4 && code < 0x10000);
  if (overlong || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return n;
}

void make_printable(nlohmann::json& value) {
  if (value.is_string()) {
    value = printable_utf8(value.get_ref<const std::string&>());
  } else if (value.is_structured()) {
    for (auto& item : value) make_printable(item);
  }
}

std::string iso_time(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
  return text;
}

}  // namespace

std::string printable_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    if (const size_t n = utf8_sequence(bytes, i)) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto c = static_cast<unsigned char>(bytes[i++]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

namespace {

// Appends the escape of a control byte (\n, \t, \r, or \xNN for the others and DEL); false
// when `c` is not one, and nothing appended.
bool append_control_escape(std::string& out, char c) {
  switch (c) {
    case '\n': out += "\\n"; return true;
    case '\t': out += "\\t"; return true;
    case '\r': out += "\\r"; return true;
    default:
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) return false;
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(c));
      out += hex;
      return true;
  }
}

}  // namespace

std::string display_value(std::string_view bytes) {
  std::string escaped;
  bool quote = bytes.empty();
  for (char c : bytes) {
    switch (c) {
      case '\\': escaped += "\\\\"; break;
      case '"': escaped += "\\\""; quote = true; break;
      case ' ': escaped += ' '; quote = true; break;
      default:
        if (!append_control_escape(escaped, c)) escaped += c;
    }
  }
  escaped = printable_utf8(escaped);
  return quote ? "\"" + escaped + "\"" : escaped;
}

std::string one_terminal_line(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (!append_control_escape(escaped, c)) escaped += c;
  }
  return printable_utf8(escaped);
}

Log::Log()
    : thread_([this] {
        pthread_setname_np(pthread_self(), "log-writer");
        run();
      }) {}

Log::~Log() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queued_.notify_one();
  }
  thread_.join();  // the thread drains the queue before it returns
  if (fd_ > 2) ::close(fd_);
}

bool Log::open(const std::string& path, std::string& error) {
  if (path.empty()) return true;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open agent.log_file '" + path + "': " + std::strerror(errno);
    return false;
  }
  // Lines queued before the reopen still go to the old file.
  flush();
  std::lock_guard lock(fd_mutex_);
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
  return true;
}

void Log::set_text(bool text) { text_.store(text, std::memory_order_relaxed); }

void Log::write(std::string_view level, std::string_view msg, const nlohmann::json& fields) {
  const auto now = std::chrono::system_clock::now();
  const bool as_text = text_.load(std::memory_order_relaxed);
  // Formatted here: writing the line straight into a string costs the caller less than the
  // copy of `fields` that queueing them would take (and their destruction on the log thread).
  std::string line;
  try {
    line = format(now, level, msg, fields, as_text);
  } catch (...) {
    return;  // an exception must not reach the caller; the one line is lost
  }
  enqueue(std::move(line));
}

void Log::enqueue(std::string&& line) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(line));
  ++queued_count_;
  // Only the first line of a batch wakes the thread; the rest ride along.
  if (queue_.size() == 1) queued_.notify_one();
}

void Log::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_count_;
  written_.wait(lock, [&] { return written_count_ >= target; });
}

void Log::run() {
  std::vector<std::string> batch;
  std::string text;
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    batch.swap(queue_);
    lock.unlock();
    text.clear();
    for (const std::string& line : batch) text += line;
    {
      std::lock_guard fd_lock(fd_mutex_);
      for (size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // nowhere left to complain; the lines are dropped
        done += static_cast<size_t>(n);
      }
    }
    const size_t count = batch.size();
    batch.clear();
    lock.lock();
    written_count_ += count;
    written_.notify_all();
  }
}

namespace {

// `s` (valid UTF-8) as a JSON string, escaped as nlohmann's dump() escapes it.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t plain = 0;  // start of the run not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.substr(plain));
  out += '"';
}

// True when `s` is printable ASCII needing no escape: it is written as it is.
bool plain_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
}

void append_json_string_of(std::string& out, std::string_view bytes) {
  if (plain_ascii(bytes)) {
    out += '"';
    out.append(bytes);
    out += '"';
  } else {
    append_json_string(out, printable_utf8(bytes));
  }
}

void append_json_value(std::string& out, const nlohmann::json& value) {
  if (value.is_string()) {
    append_json_string_of(out, value.get_ref<const std::string&>());
  } else if (value.is_structured()) {
    nlohmann::json copy = value;
    make_printable(copy);
    out += copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (value.is_number_integer() || value.is_number_unsigned()) {
    // What dump() writes for them, without its serializer's allocations.
    char digits[24];
    const char* end =
        (value.is_number_unsigned()
             ? std::to_chars(digits, digits + sizeof digits, value.get<uint64_t>())
             : std::to_chars(digits, digits + sizeof digits, value.get<int64_t>()))
            .ptr;
    out.append(digits, static_cast<size_t>(end - digits));
  } else if (value.is_boolean()) {
    out += value.get<bool>() ? "true" : "false";
  } else if (value.is_null()) {
    out += "null";
  } else {
    out += value.dump();
  }
}

}  // namespace

namespace {

// {"level":…,"msg":…,"ts":…, ...fields}: `each_field(emit)` calls emit(name, append_value) for
// every field in key order. The keys in the order of a JSON object of nlohmann's (sorted),
// "level", "msg" and "ts" among the fields'; a field of the same name wins, as it did when the
// line was built as one object.
template <typename EachField>
std::string json_line(std::chrono::system_clock::time_point ts, std::string_view level,
                      std::string_view msg, EachField each_field) {
  const std::string when = iso_time(ts);
  const std::pair<std::string_view, std::string_view> fixed[] = {
      {"level", level}, {"msg", msg}, {"ts", when}};
  std::string out;
  out.reserve(256);
  out += '{';
  bool first = true;
  const auto key = [&](std::string_view name) {
    if (!first) out += ',';
    first = false;
    append_json_string_of(out, name);
    out += ':';
  };
  size_t next = 0;  // the first fixed key not yet written
  const auto fixed_before = [&](std::string_view name) {
    for (; next < std::size(fixed) && fixed[next].first < name; ++next) {
      key(fixed[next].first);
      append_json_string_of(out, fixed[next].second);
    }
    if (next < std::size(fixed) && fixed[next].first == name) ++next;  // the field's wins
  };
  each_field([&](std::string_view name, const auto& append_value) {
    fixed_before(name);
    key(name);
    append_value(out);
  });
  fixed_before("\x7f\x7f");  // the rest of them (every key here sorts before it)
  out += "}\n";
  return out;
}

void append_field_value(std::string& out, const LogField& field) {
  switch (field.kind) {
    case LogField::Kind::kString: append_json_string_of(out, field.text); return;
    case LogField::Kind::kBool: out += field.number != 0 ? "true" : "false"; return;
    case LogField::Kind::kInt: {
      char digits[24];
      const char* end = std::to_chars(digits, digits + sizeof digits, field.number).ptr;
      out.append(digits, static_cast<size_t>(end - digits));
      return;
    }
  }
}

// The fields in key order, as a JSON object would hold them (a handful: sorted by insertion,
// on the stack unless there are many).
template <typename Visit>
void each_sorted(std::span<const LogField> fields, Visit visit) {
  constexpr size_t kOnStack = 16;
  const LogField* on_stack[kOnStack];
  std::vector<const LogField*> on_heap;
  const LogField** order = on_stack;
  if (fields.size() > kOnStack) {
    on_heap.resize(fields.size());
    order = on_heap.data();
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    size_t j = i;
    for (; j > 0 && fields[i].key < order[j - 1]->key; --j) order[j] = order[j - 1];
    order[j] = &fields[i];
  }
  for (size_t i = 0; i < fields.size(); ++i) visit(*order[i]);
}

nlohmann::json as_object(std::span<const LogField> fields) {
  nlohmann::json object = nlohmann::json::object();
  for (const LogField& field : fields) {
    auto& value = object[std::string(field.key)];
    switch (field.kind) {
      case LogField::Kind::kString: value = std::string(field.text); break;
      case LogField::Kind::kInt: value = field.number; break;
      case LogField::Kind::kBool: value = field.number != 0; break;
    }
  }
  return object;
}

}  // namespace

std::string format_json_line(std::chrono::system_clock::time_point ts, std::string_view level,
                             std::string_view msg, const nlohmann::json& fields) {
  return json_line(ts, level, msg, [&](const auto& emit) {
    if (!fields.is_object()) return;
    for (const auto& [name, value] : fields.items()) {
      emit(name, [&](std::string& out) { append_json_value(out, value); });
    }
  });
}

std::string format_json_line(std::chrono::system_clock::time_point ts, std::string_view level,
                             std::string_view msg, std::span<const LogField> fields) {
  return json_line(ts, level, msg, [&](const auto& emit) {
    each_sorted(fields, [&](const LogField& field) {
      emit(field.key, [&](std::string& out) { append_field_value(out, field); });
    });
  });
}

std::string Log::line_of(std::string_view level, std::string_view msg,
                         std::span<const LogField> fields) const {
  const auto now = std::chrono::system_clock::now();
  try {
    return text_.load(std::memory_order_relaxed)
               ? format(now, level, msg, as_object(fields), /*text_format=*/true)
               : format_json_line(now, level, msg, fields);
  } catch (...) {
    return {};  // as write(): the one line is lost, the caller never sees an exception
  }
}

void Log::write_lines(std::vector<std::string>&& lines) {
  std::lock_guard lock(mutex_);
  const bool was_empty = queue_.empty();
  for (std::string& line : lines) {
    if (line.empty()) continue;
    queue_.push_back(std::move(line));
    ++queued_count_;
  }
  if (was_empty && !queue_.empty()) queued_.notify_one();
  lines.clear();
}

std::string Log::format(std::chrono::system_clock::time_point ts, std::string_view level,
                        std::string_view msg, const nlohmann::json& fields, bool text_format) {
  if (!text_format) return format_json_line(ts, level, msg, fields);
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = iso_time(ts);
  line["level"] = std::string(level);
  line["msg"] = printable_utf8(msg);
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      nlohmann::json copy = value;
      make_printable(copy);
      line[key] = std::move(copy);
    }
  }
  std::string out = line["ts"].get<std::string>() + " " + std::string(level) + " " +
                    line["msg"].get<std::string>();
  for (const auto& [key, value] : line.items()) {
    if (key == "ts" || key == "level" || key == "msg") continue;
    out += " " + key + "=" + (value.is_string() ? display_value(value.get<std::string>()) : value.dump());
  }
  out += '\n';
  return out;
}

}  // namespace folderhook::agent
