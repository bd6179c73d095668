// ExpectTracker: one expectation's state between deadlines, and its judgement at each deadline.
// Pure: times come in as arguments, events and the record to store go out; the loop side
// (expect_runner.h) owns the timer, the store and the deliveries. One thread (the loop's).
//
// A deadline D is met when a file counted (expect_runner.h says which do) at a time in
// (previous deadline, D]; missed otherwise: one alert. A file counted after a missed deadline
// is its late arrival: one "arrived" message per missed deadline.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "agent/expect_deadline.h"
#include "agent/expect_zone.h"

namespace folderhook::agent {

// What state_dir keeps of an expectation (expect_store.h), so that a restart neither judges a
// deadline twice nor forgets a file seen before it stopped.
struct ExpectRecord {
  std::string folder;           // the folder rule's path
  std::string name;             // Expectation::name
  int64_t last_deadline_s = 0;  // the last deadline judged (or, new, the one before the start)
  std::string outcome;          // "" (none judged yet), "met", "missed", "late-arrived"
  int64_t seen_ms = 0;          // the first file counted after last_deadline_s; 0 = none
  std::string seen_path;
  // For `status` only (the tracker sets them): the include globs, joined by ",", and the next
  // deadline to judge.
  std::string include;
  int64_t next_deadline_s = 0;
  bool operator==(const ExpectRecord&) const = default;
};

struct ExpectEvent {
  enum class Kind { kMissed, kArrived };
  Kind kind = Kind::kMissed;
  int64_t due_s = 0;       // the deadline it is about
  int64_t arrived_ms = 0;  // kArrived: when the late file was seen
  std::string path;        // kArrived: which file
};

class ExpectTracker {
 public:
  // At most this many deadlines that passed while the agent was stopped are judged (the most
  // recent ones); the ones before are skipped, with a log line (judge()'s `skipped`).
  static constexpr int kMaxJudgedAtOnce = 7;

  // `expectation` of the folder rule `folder`; `record` as stored, or a new one (last_deadline_s == 0): its first judged deadline is then
  // the first after `now_s`.
  ExpectTracker(const std::string& folder, const Expectation& expectation, TimeZone zone,
                ExpectRecord record, int64_t now_s);

  // A file that counts, seen (or, after downtime, last modified) at `at_ms`. Returns a kArrived
  // event when it is the late arrival of the last deadline, which was missed.
  std::vector<ExpectEvent> saw(int64_t at_ms, const std::string& path);
  // Judges every deadline up to `now_s` not judged yet, in order: a kMissed event for each
  // missed one (and its kArrived when a later file is already known). `skipped` counts the
  // deadlines beyond kMaxJudgedAtOnce that were not judged.
  std::vector<ExpectEvent> judge(int64_t now_s, int& skipped);
  // The next deadline to judge.
  int64_t next_due_s() const;

  const ExpectRecord& record() const { return record_; }
  const Expectation& expectation() const { return expectation_; }
  const TimeZone& zone() const { return zone_; }

 private:
  DeadlineSchedule schedule() const { return {expectation_.time_of_day, expectation_.days}; }
  // The deadline whose window holds `at_ms`: the first at or after it.
  int64_t window_of(int64_t at_ms) const;

  Expectation expectation_;
  TimeZone zone_;
  ExpectRecord record_;
  // The first file counted in each window not judged yet: window's deadline -> (ms, path).
  // Usually one entry; more only when deadlines passed while the agent was stopped.
  std::map<int64_t, std::pair<int64_t, std::string>> seen_;
};

}  // namespace folderhook::agent
