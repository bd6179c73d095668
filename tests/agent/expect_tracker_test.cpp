// agent/expect_tracker.h: windows between deadlines, met and missed, one late arrival per missed
// deadline, and the deadlines that passed while the agent was stopped.
#include <doctest/doctest.h>

#include <chrono>

#include "agent/expect_alert.h"
#include <nlohmann/json.hpp>

#include "agent/expect_tracker.h"

using namespace folderhook::agent;

namespace {

int64_t t_s(int d, int hh, int mm = 0) {  // 2026-12-dd hh:mm UTC
  const std::chrono::sys_days date =
      std::chrono::year{2026} / std::chrono::December / std::chrono::day{static_cast<unsigned>(d)};
  return date.time_since_epoch().count() * 86400LL + hh * 3600 + mm * 60;
}
int64_t t_ms(int d, int hh, int mm = 0) { return t_s(d, hh, mm) * 1000; }

Expectation daily_six() {
  Expectation e;
  e.name = "*.csv by 06:00";
  e.include = {"*.csv"};
  e.by = "06:00";
  e.time_of_day = 6 * 3600;
  e.alert_urls = {"http://127.0.0.1:1/alert"};
  return e;
}

ExpectTracker fresh(int64_t now_s) {
  return ExpectTracker("/srv/in", daily_six(), TimeZone::utc(), {}, now_s);
}

}  // namespace

TEST_CASE("a new expectation's first window starts at the deadline before it was read") {
  ExpectTracker t = fresh(t_s(1, 10));
  CHECK(t.record().last_deadline_s == t_s(1, 6));
  CHECK(t.record().outcome.empty());
  CHECK(t.next_due_s() == t_s(2, 6));
  int skipped = 0;
  CHECK(t.judge(t_s(2, 5, 59), skipped).empty());
  CHECK(t.record().last_deadline_s == t_s(1, 6));
}

TEST_CASE("a file in the window meets the deadline: nothing is sent") {
  ExpectTracker t = fresh(t_s(1, 10));
  CHECK(t.saw(t_ms(1, 12), "/srv/in/a.csv").empty());
  int skipped = 0;
  CHECK(t.judge(t_s(2, 6), skipped).empty());
  CHECK(t.record().outcome == "met");
  CHECK(t.record().last_deadline_s == t_s(2, 6));
  CHECK(t.record().seen_ms == 0);  // the next window has nothing yet
}

TEST_CASE("no file by the deadline is one missed event, and the late file one arrival") {
  ExpectTracker t = fresh(t_s(1, 10));
  int skipped = 0;
  const auto missed = t.judge(t_s(2, 7), skipped);
  REQUIRE(missed.size() == 1);
  CHECK(missed[0].kind == ExpectEvent::Kind::kMissed);
  CHECK(missed[0].due_s == t_s(2, 6));
  CHECK(t.record().outcome == "missed");
  CHECK(t.judge(t_s(2, 8), skipped).empty());  // judged once

  const auto late = t.saw(t_ms(2, 9), "/srv/in/late.csv");
  REQUIRE(late.size() == 1);
  CHECK(late[0].kind == ExpectEvent::Kind::kArrived);
  CHECK(late[0].due_s == t_s(2, 6));
  CHECK(late[0].path == "/srv/in/late.csv");
  CHECK(t.record().outcome == "late-arrived");
  CHECK(t.saw(t_ms(2, 10), "/srv/in/later.csv").empty());  // once per missed deadline
  // The late file also counts for the next deadline.
  CHECK(t.judge(t_s(3, 6), skipped).empty());
  CHECK(t.record().outcome == "met");
}

TEST_CASE("a file seen just after the deadline was judged but written before it is late, not lost") {
  ExpectTracker t = fresh(t_s(1, 10));
  int skipped = 0;
  REQUIRE(t.judge(t_s(2, 6), skipped).size() == 1);
  const auto late = t.saw(t_ms(2, 5, 59), "/srv/in/a.csv");
  REQUIRE(late.size() == 1);
  CHECK(late[0].arrived_ms == t_ms(2, 6));
}

TEST_CASE("a stored record: a restart judges each passed deadline once, from what is known") {
  ExpectRecord stored;
  stored.folder = "/srv/in";
  stored.name = "*.csv by 06:00";
  stored.last_deadline_s = t_s(1, 6);
  stored.outcome = "met";
  stored.seen_ms = t_ms(1, 20);  // seen before the stop: meets the 2nd
  ExpectTracker t("/srv/in", daily_six(), TimeZone::utc(), stored, t_s(5, 7));
  // What the start catch-up found: modified on the 3rd after 6:00 (late for the 3rd).
  CHECK(t.saw(t_ms(3, 8), "/srv/in/b.csv").empty());
  int skipped = 0;
  const auto events = t.judge(t_s(5, 7), skipped);
  CHECK(skipped == 0);
  // 2nd met; 3rd missed, its late file known; 4th met (that file); 5th missed.
  REQUIRE(events.size() == 3);
  CHECK(events[0].kind == ExpectEvent::Kind::kMissed);
  CHECK(events[0].due_s == t_s(3, 6));
  CHECK(events[1].kind == ExpectEvent::Kind::kArrived);
  CHECK(events[1].path == "/srv/in/b.csv");
  CHECK(events[2].kind == ExpectEvent::Kind::kMissed);
  CHECK(events[2].due_s == t_s(5, 6));
  CHECK(t.record().outcome == "missed");
  CHECK(t.record().last_deadline_s == t_s(5, 6));
  // The same record again (a second restart): nothing more to judge.
  ExpectTracker again("/srv/in", daily_six(), TimeZone::utc(), t.record(), t_s(5, 8));
  CHECK(again.judge(t_s(5, 8), skipped).empty());
}

TEST_CASE("after a long stop only the most recent deadlines are judged") {
  ExpectRecord stored;
  stored.last_deadline_s = t_s(1, 6);
  stored.outcome = "met";
  ExpectTracker t("/srv/in", daily_six(), TimeZone::utc(), stored, t_s(21, 7));
  int skipped = 0;
  const auto events = t.judge(t_s(21, 7), skipped);
  CHECK(skipped == 20 - ExpectTracker::kMaxJudgedAtOnce);
  CHECK(events.size() == static_cast<size_t>(ExpectTracker::kMaxJudgedAtOnce));
  CHECK(events.front().due_s == t_s(15, 6));
}

TEST_CASE("the alert is a POST of the documented JSON with the folder's secret and a stable id") {
  FolderRule folder;
  folder.path = "/srv/files/in";
  folder.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  folder.headers = {{"X-Team", "ops"}};
  const Expectation e = daily_six();
  const ExpectEvent missed{ExpectEvent::Kind::kMissed, t_s(2, 6), 0, ""};
  const auto r = make_expect_request(folder, e, missed, "/srv/files");
  CHECK(r.method == "POST");
  CHECK(r.urls == e.alert_urls);
  CHECK(r.secret == folder.secret);
  CHECK(r.headers == folder.headers);
  const auto body = nlohmann::json::parse(r.body);
  CHECK(body["expectation"] == "*.csv by 06:00");
  CHECK(body["folder"] == "/in");
  CHECK(body["due"] == "2026-12-02T06:00:00+00:00");
  CHECK(body["seen"] == 0);
  CHECK(r.id == make_expect_request(folder, e, missed, "/srv/files").id);
  const ExpectEvent arrived{ExpectEvent::Kind::kArrived, t_s(2, 6), t_ms(2, 9), "/srv/files/in/x.csv"};
  const auto a = make_expect_request(folder, e, arrived, "/srv/files");
  CHECK(a.id != r.id);
  const auto abody = nlohmann::json::parse(a.body);
  CHECK(abody["seen"] == 1);
  CHECK(abody["path"] == "/in/x.csv");
  CHECK(abody["at"] == "2026-12-02T09:00:00+00:00");
}
