#include "agent/expect_zone.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

namespace folderhook::agent {
namespace {

// Past this size a file is not a zone (the largest of tzdata's "fat" files is under 4 KiB).
constexpr size_t kMaxTzifBytes = 1 << 20;

int64_t read_be(std::string_view data, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(data[at + i]);
  if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

// A zone name's own text, with "<...>" or letters; advances `i`.
bool zone_abbreviation(std::string_view s, size_t& i) {
  if (i < s.size() && s[i] == '<') {
    const size_t close = s.find('>', i);
    if (close == std::string_view::npos) return false;
    i = close + 1;
    return true;
  }
  const size_t begin = i;
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  return i - begin >= 3;
}

// [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536's extension for rule times).
std::optional<int32_t> clock_value(std::string_view s, size_t& i) {
  int sign = 1;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  int32_t total = 0;
  for (int part = 0; part < 3; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != ':') break;
      ++i;
    }
    const size_t begin = i;
    int32_t v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - begin < 3) {
      v = v * 10 + (s[i++] - '0');
    }
    if (i == begin) return std::nullopt;
    total += v * (part == 0 ? 3600 : part == 1 ? 60 : 1);
  }
  return sign * total;
}

std::optional<ZoneRule::Date> rule_date(std::string_view s, size_t& i) {
  ZoneRule::Date d;
  auto number = [&](int& out) {
    const size_t begin = i;
    out = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - begin < 3) {
      out = out * 10 + (s[i++] - '0');
    }
    return i > begin;
  };
  if (i < s.size() && s[i] == 'M') {
    ++i;
    if (!number(d.month) || i >= s.size() || s[i++] != '.' || !number(d.week) ||
        i >= s.size() || s[i++] != '.' || !number(d.weekday)) {
      return std::nullopt;
    }
    if (d.month < 1 || d.month > 12 || d.week < 1 || d.week > 5 || d.weekday > 6) return std::nullopt;
  } else if (i < s.size() && s[i] == 'J') {
    ++i;
    d.kind = 'J';
    if (!number(d.day) || d.day < 1 || d.day > 365) return std::nullopt;
  } else {
    d.kind = 'N';
    if (!number(d.day) || d.day > 365) return std::nullopt;
  }
  if (i < s.size() && s[i] == '/') {
    ++i;
    auto t = clock_value(s, i);
    if (!t) return std::nullopt;
    d.time = *t;
  }
  return d;
}

// The Unix seconds at which `date` (local time, `offset` east of UTC) falls in `y`.
int64_t rule_instant(const ZoneRule::Date& date, std::chrono::year y, int32_t offset) {
  namespace c = std::chrono;
  c::sys_days day;
  if (date.kind == 'M') {
    const c::month m{static_cast<unsigned>(date.month)};
    const c::weekday wd{static_cast<unsigned>(date.weekday)};
    day = date.week == 5 ? c::sys_days(y / m / wd[c::last])
                         : c::sys_days(y / m / wd[static_cast<unsigned>(date.week)]);
  } else if (date.kind == 'J') {
    day = c::sys_days(y / c::January / 1) + c::days(date.day - 1);
    if (y.is_leap() && date.day >= 60) day += c::days(1);  // Feb 29 is never counted
  } else {
    day = c::sys_days(y / c::January / 1) + c::days(date.day);
  }
  return day.time_since_epoch().count() * 86400LL + date.time - offset;
}

}  // namespace

std::optional<ZoneRule> parse_zone_rule(std::string_view s, std::string& error) {
  ZoneRule rule;
  size_t i = 0;
  auto fail = [&](const char* why) {
    error = "not a POSIX TZ rule ('" + std::string(s) + "'): " + why;
    return std::nullopt;
  };
  if (!zone_abbreviation(s, i)) return fail("no standard time name");
  auto std_off = clock_value(s, i);
  if (!std_off) return fail("no UTC offset");
  rule.std_offset = -*std_off;  // POSIX offsets count west of UTC
  if (i == s.size()) return rule;
  if (!zone_abbreviation(s, i)) return fail("bad daylight-saving time name");
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (i < s.size() && s[i] != ',') {
    auto dst_off = clock_value(s, i);
    if (!dst_off) return fail("bad daylight-saving offset");
    rule.dst_offset = -*dst_off;
  }
  if (i >= s.size() || s[i++] != ',') return fail("no rule for the change dates");
  auto start = rule_date(s, i);
  if (!start || i >= s.size() || s[i++] != ',') return fail("bad start date");
  auto end = rule_date(s, i);
  if (!end || i != s.size()) return fail("bad end date");
  rule.start = *start;
  rule.end = *end;
  return rule;
}

int32_t rule_offset_at(const ZoneRule& rule, int64_t utc_s) {
  if (!rule.has_dst) return rule.std_offset;
  namespace c = std::chrono;
  const c::sys_days local_day{c::floor<c::days>(c::seconds(utc_s + rule.std_offset))};
  const c::year y = c::year_month_day(local_day).year();
  // The switch to daylight time happens at a standard-time wall clock, the switch back at a
  // daylight-time one.
  const int64_t start = rule_instant(rule.start, y, rule.std_offset);
  const int64_t end = rule_instant(rule.end, y, rule.dst_offset);
  const bool dst = start < end ? (utc_s >= start && utc_s < end)   // northern hemisphere
                               : !(utc_s >= end && utc_s < start);  // southern: across New Year
  return dst ? rule.dst_offset : rule.std_offset;
}

TimeZone TimeZone::utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

std::optional<TimeZone> TimeZone::load(std::string_view name, std::string& error,
                                       const std::string& dir) {
  if (name == "UTC") return utc();  // the default: needs no tzdata
  const bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' ||
           c == '/';
  });
  if (name.empty() || !chars_ok || name.front() == '/' || name.find("..") != std::string_view::npos) {
    error = "'" + std::string(name) + "' is not a time zone name such as \"Europe/Paris\" or \"UTC\"";
    return std::nullopt;
  }
  const std::string path = dir + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "unknown time zone '" + std::string(name) + "' (no " + path + ")";
    return std::nullopt;
  }
  std::string data(kMaxTzifBytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > kMaxTzifBytes) {
    error = path + " is too large to be a time zone file";
    return std::nullopt;
  }
  std::string why;
  auto zone = parse(name, data, why);
  if (!zone) error = "unknown time zone '" + std::string(name) + "': " + path + ": " + why;
  return zone;
}

std::optional<TimeZone> TimeZone::parse(std::string_view name, std::string_view d,
                                        std::string& error) {
  constexpr size_t kHeader = 44;
  if (d.size() < kHeader || d.substr(0, 4) != "TZif") {
    error = "not a TZif file";
    return std::nullopt;
  }
  struct Counts {
    int64_t isut, isstd, leap, time, type, chars;
  };
  auto counts_at = [&](size_t at) {
    return Counts{read_be(d, at + 20, 4), read_be(d, at + 24, 4), read_be(d, at + 28, 4),
                  read_be(d, at + 32, 4), read_be(d, at + 36, 4), read_be(d, at + 40, 4)};
  };
  auto block_size = [](const Counts& c, size_t tsize) {
    return static_cast<size_t>(c.time) * (tsize + 1) + static_cast<size_t>(c.type) * 6 +
           static_cast<size_t>(c.chars) + static_cast<size_t>(c.leap) * (tsize + 4) +
           static_cast<size_t>(c.isstd) + static_cast<size_t>(c.isut);
  };
  Counts c = counts_at(0);
  if (c.isut < 0 || c.isstd < 0 || c.leap < 0 || c.time < 0 || c.type < 1 || c.chars < 0 ||
      c.time > 100000 || c.type > 256) {
    error = "bad TZif header";
    return std::nullopt;
  }
  size_t at = kHeader;
  size_t tsize = 4;
  if (d[4] >= '2') {  // skip the 32-bit data to the 64-bit header and data
    at += block_size(c, 4);
    if (d.size() < at + kHeader || d.substr(at, 4) != "TZif") {
      error = "truncated TZif file";
      return std::nullopt;
    }
    c = counts_at(at);
    if (c.time < 0 || c.time > 100000 || c.type < 1 || c.type > 256 || c.chars < 0 ||
        c.leap < 0 || c.isstd < 0 || c.isut < 0) {
      error = "bad TZif header";
      return std::nullopt;
    }
    at += kHeader;
    tsize = 8;
  }
  if (d.size() < at + block_size(c, tsize)) {
    error = "truncated TZif file";
    return std::nullopt;
  }
  TimeZone z;
  z.name_ = std::string(name);
  const size_t types_at = at + static_cast<size_t>(c.time) * (tsize + 1);
  std::vector<int32_t> type_offsets;
  for (int64_t t = 0; t < c.type; ++t) {
    type_offsets.push_back(static_cast<int32_t>(read_be(d, types_at + static_cast<size_t>(t) * 6, 4)));
  }
  for (int64_t i = 0; i < c.time; ++i) {
    const int64_t when = read_be(d, at + static_cast<size_t>(i) * tsize, tsize);
    const auto type = static_cast<unsigned char>(d[at + static_cast<size_t>(c.time) * tsize + static_cast<size_t>(i)]);
    if (type >= type_offsets.size() || (!z.transitions_.empty() && when <= z.transitions_.back())) {
      error = "bad TZif transition";
      return std::nullopt;
    }
    z.transitions_.push_back(when);
    z.offset_after_.push_back(type_offsets[type]);
  }
  z.initial_offset_ = type_offsets[0];
  if (tsize == 8) {
    const size_t footer = at + block_size(c, tsize);
    if (footer < d.size() && d[footer] == '\n') {
      const size_t close = d.find('\n', footer + 1);
      const std::string_view text = d.substr(footer + 1, close == std::string_view::npos ? 0 : close - footer - 1);
      if (!text.empty()) {
        z.rule_ = parse_zone_rule(text, error);
        if (!z.rule_) return std::nullopt;
      }
    }
  }
  return z;
}

int32_t TimeZone::offset_at(int64_t utc_s) const {
  if (transitions_.empty()) return rule_ ? rule_offset_at(*rule_, utc_s) : initial_offset_;
  if (utc_s < transitions_.front()) return initial_offset_;
  if (utc_s >= transitions_.back() && rule_) return rule_offset_at(*rule_, utc_s);
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_s);
  return offset_after_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

int64_t TimeZone::to_utc(int64_t local_s) const {
  // Offsets change at most a few hours at a time and never twice within a day: the offsets a
  // day before and after are the only candidates.
  const int32_t before = offset_at(local_s - 86400);
  const int32_t after = offset_at(local_s + 86400);
  const int64_t first = local_s - std::max(before, after);
  const int64_t second = local_s - std::min(before, after);
  if (offset_at(first) == local_s - first) return first;
  if (offset_at(second) == local_s - second) return second;
  // Skipped by a jump forward: as far after the jump as it lies after the last valid time.
  return local_s - before;
}

}  // namespace folderhook::agent
