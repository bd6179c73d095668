// A time zone as the system's tz database describes it: the TZif files under
// /usr/share/zoneinfo (Debian's tzdata), read by a small reader of their own, because GCC 12's
// libstdc++ has no std::chrono::tzdb, and setenv("TZ") + localtime_r would change the whole
// process's zone under the threads that run beside the loop. Pure but for load(), which reads
// one file. Immutable once made: any thread may use a TimeZone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::agent {

// The daylight-saving rule of a TZif footer (RFC 8536 section 3.3, a POSIX TZ string such as
// "CET-1CEST,M3.5.0,M10.5.0/3"): what applies after the file's last transition.
struct ZoneRule {
  int32_t std_offset = 0;  // seconds east of UTC
  bool has_dst = false;
  int32_t dst_offset = 0;
  // A rule date: kind 'M' (month, week 1-5 where 5 = last, weekday 0 = Sunday), 'J' (day of
  // year 1-365, Feb 29 never counted) or 'N' (day of year 0-365); `time` is local seconds.
  struct Date {
    char kind = 'M';
    int month = 0, week = 0, weekday = 0, day = 0;
    int32_t time = 2 * 3600;
  };
  Date start, end;
};

// Parses a POSIX TZ string as TZif footers hold them; nullopt with `error` when it is not one.
std::optional<ZoneRule> parse_zone_rule(std::string_view text, std::string& error);
// The offset (seconds east of UTC) that `rule` gives at `utc_s` (Unix seconds).
int32_t rule_offset_at(const ZoneRule& rule, int64_t utc_s);

class TimeZone {
 public:
  static TimeZone utc();
  // Reads `dir`/`name` ("Europe/Paris", "UTC"). nullopt with `error` for a name that is not a
  // zone (empty, absolute, "..", a character outside [A-Za-z0-9_+-/]), a missing file, or a
  // file that is not TZif. "UTC" needs no file.
  static std::optional<TimeZone> load(std::string_view name, std::string& error,
                                      const std::string& dir = "/usr/share/zoneinfo");
  // The zone a TZif file's bytes describe (versions 1 to 4; the 64-bit data of 2+).
  static std::optional<TimeZone> parse(std::string_view name, std::string_view tzif,
                                       std::string& error);

  const std::string& name() const { return name_; }
  // Seconds east of UTC at the instant `utc_s`.
  int32_t offset_at(int64_t utc_s) const;
  // The instant at which local wall-clock time `local_s` (seconds since 1970-01-01T00:00 local)
  // first occurs. A local time skipped by a spring-forward (02:30 on a day clocks jump from
  // 02:00 to 03:00) is taken as that much after the jump (03:30); a repeated one (autumn)
  // is its first occurrence.
  int64_t to_utc(int64_t local_s) const;

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // ascending Unix seconds
  std::vector<int32_t> offset_after_;  // the offset from each transition on
  int32_t initial_offset_ = 0;         // before the first transition
  std::optional<ZoneRule> rule_;       // after the last one (the footer), when it has one
};

}  // namespace folderhook::agent
