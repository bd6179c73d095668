#include "agent/delivery_log.h"

#include <array>

#include "delivery/retry.h"

namespace folderhook::agent {
namespace {

// The line's fields, viewing `entry` (and `next_at`, which holds the formatted retry time).
struct AttemptFields {
  std::array<LogField, 12> fields;
  size_t size = 0;
  std::string next_at;

  explicit AttemptFields(const delivery::AttemptLog& e) {
    add(LogField::str("id", e.id));
    add(LogField::str("action", e.action));
    add(LogField::str("path", e.path));
    add(LogField::str("url", e.url));
    add(LogField::num("attempt", e.attempt));
    add(LogField::num("status", e.status));
    add(LogField::str("error", e.error));
    add(LogField::num("ms", e.ms));
    add(LogField::flag("catch_up", e.catch_up));
    if (e.members > 0) add(LogField::num("batch", static_cast<int64_t>(e.members)));
    add(LogField::str("outcome", delivery::attempt_outcome(e)));
    if (e.outcome == delivery::AttemptLog::Outcome::kRetry) {
      next_at = delivery::format_iso_utc(e.next_at_ms);
      add(LogField::str("next_at", next_at));
    }
  }
  AttemptFields(const AttemptFields&) = delete;  // the next_at field views next_at
  AttemptFields& operator=(const AttemptFields&) = delete;

  void add(LogField field) { fields[size++] = field; }
  std::span<const LogField> view() const { return {fields.data(), size}; }
};

}  // namespace

std::string format_attempt_line(std::chrono::system_clock::time_point ts,
                                const delivery::AttemptLog& entry) {
  const AttemptFields fields(entry);
  return format_json_line(ts, delivery::attempt_level(entry), "delivery", fields.view());
}

std::string attempt_line(const Log& log, const delivery::AttemptLog& entry) {
  const AttemptFields fields(entry);
  return log.line_of(delivery::attempt_level(entry), "delivery", fields.view());
}

}  // namespace folderhook::agent
