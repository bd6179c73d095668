#include "agent/expect_tracker.h"

namespace folderhook::agent {

ExpectTracker::ExpectTracker(const std::string& expectation_folder,
                             const Expectation& expectation, TimeZone zone, ExpectRecord record,
                             int64_t now_s)
    : expectation_(expectation), zone_(std::move(zone)), record_(std::move(record)) {
  if (record_.last_deadline_s == 0) {
    // New: the window before its first deadline starts now, not at a deadline it never knew.
    record_.last_deadline_s = previous_deadline(schedule(), zone_, now_s);
    record_.outcome.clear();
    record_.seen_ms = 0;
    record_.seen_path.clear();
  }
  record_.folder = expectation_folder;
  record_.name = expectation_.name;
  record_.include.clear();
  for (const std::string& g : expectation_.include) {
    record_.include += (record_.include.empty() ? "" : ",") + g;
  }
  record_.next_deadline_s = next_due_s();
  if (record_.seen_ms > record_.last_deadline_s * 1000) {
    seen_[window_of(record_.seen_ms)] = {record_.seen_ms, record_.seen_path};
  } else {
    record_.seen_ms = 0;
    record_.seen_path.clear();
  }
}

int64_t ExpectTracker::window_of(int64_t at_ms) const {
  // The first deadline D with D * 1000 >= at_ms.
  const int64_t ceil_s = at_ms / 1000 + (at_ms % 1000 > 0 ? 1 : 0);
  return next_deadline(schedule(), zone_, ceil_s - 1);
}

int64_t ExpectTracker::next_due_s() const {
  return next_deadline(schedule(), zone_, record_.last_deadline_s);
}

std::vector<ExpectEvent> ExpectTracker::saw(int64_t at_ms, const std::string& path) {
  std::vector<ExpectEvent> events;
  const int64_t last_ms = record_.last_deadline_s * 1000;
  if (record_.outcome == "missed") {
    // Late: after the missed deadline, or before it but seen only after it was judged (an
    // upload that completed just before the deadline).
    const int64_t window_start =
        previous_deadline(schedule(), zone_, record_.last_deadline_s - 1) * 1000;
    if (at_ms > window_start) {
      events.push_back({ExpectEvent::Kind::kArrived, record_.last_deadline_s,
                        at_ms > last_ms ? at_ms : last_ms, path});
      record_.outcome = "late-arrived";
    }
  }
  if (at_ms <= last_ms) return events;
  const auto [it, added] = seen_.try_emplace(window_of(at_ms), at_ms, path);
  if (!added && at_ms < it->second.first) it->second = {at_ms, path};
  record_.seen_ms = seen_.begin()->second.first;
  record_.seen_path = seen_.begin()->second.second;
  return events;
}

std::vector<ExpectEvent> ExpectTracker::judge(int64_t now_s, int& skipped) {
  std::vector<ExpectEvent> events;
  skipped = 0;
  std::vector<int64_t> due;
  for (int64_t d = next_due_s(); d <= now_s; d = next_deadline(schedule(), zone_, d)) {
    due.push_back(d);
    if (due.size() > static_cast<size_t>(kMaxJudgedAtOnce)) {
      due.erase(due.begin());
      ++skipped;
    }
  }
  for (int64_t d : due) {
    const bool met = seen_.count(d) > 0;
    // Its window is over, and so are any before it (skipped ones).
    seen_.erase(seen_.begin(), seen_.upper_bound(d));
    record_.last_deadline_s = d;
    if (met) {
      record_.outcome = "met";
    } else {
      record_.outcome = "missed";
      events.push_back({ExpectEvent::Kind::kMissed, d, 0, ""});
      if (!seen_.empty()) {  // a file of a later window is already known: it arrived late
        events.push_back({ExpectEvent::Kind::kArrived, d, seen_.begin()->second.first,
                          seen_.begin()->second.second});
        record_.outcome = "late-arrived";
      }
    }
  }
  record_.next_deadline_s = next_due_s();
  record_.seen_ms = seen_.empty() ? 0 : seen_.begin()->second.first;
  record_.seen_path = seen_.empty() ? std::string() : seen_.begin()->second.second;
  return events;
}

}  // namespace folderhook::agent
