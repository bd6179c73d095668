// Expectations ([[folder.expect]]) through the real binary: deadlines a few seconds ahead (a
// `by` of HH:MM:SS computed from the clock), a real alert receiver and the test SMTP server.
#include <doctest/doctest.h>
#include <signal.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "tests/support/running_agent.h"
#include "tests/support/smtp_server.h"
#include "tests/support/wait.h"

using namespace folderhook::test;

namespace expect_test {

using Clock = std::chrono::system_clock;

// A deadline `ahead` from now, on a whole second, and its `by` (UTC HH:MM:SS).
struct Deadline {
  Clock::time_point at;
  std::string by;
};

Deadline deadline_in(std::chrono::seconds ahead) {
  const auto at = std::chrono::ceil<std::chrono::seconds>(Clock::now() + ahead);
  const std::time_t t = Clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char by[16];
  std::strftime(by, sizeof by, "%H:%M:%S", &utc);
  return {at, by};
}

std::string due_text(const Deadline& d) {
  const std::time_t t = Clock::to_time_t(d.at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+00:00", &utc);
  return text;
}

// The rules: the folder's webhooks to the RunningAgent's receiver, the expectation's alerts to
// `alerts`, email through `smtp` when given.
std::string rules(const Deadline& d, const Receiver& alerts, const SmtpServer* smtp = nullptr,
                  const std::string& agent = "") {
  std::string text = rules_template(
      "", "[[folder.expect]]\ninclude = [\"*.csv\"]\nby = \"" + d.by + "\"\nalert_urls = [\"" +
              alerts.url("/alert") + "\"]\n", agent);
  if (smtp) text += "\n[notify]\nsmtp_url = \"" + smtp->url() + "\"\nto = [\"ops@example.com\"]\n";
  return text;
}

nlohmann::json expectations(const RunningAgent& r) {
  std::string out;
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  return nlohmann::json::parse(out)["expectations"];
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

void started_before(const RunningAgent& r, const Deadline& d) {
  INFO("agent log:\n" << r.agent->output());
  REQUIRE_MESSAGE(Clock::now() < d.at, "the agent started after the test's deadline");
}

// Starts the agent before the deadline and stops it once its folder is indexed (fanotify says
// `watching` before its start scan is out): what changes while it is stopped is then found by
// the next start's catch-up.
void run_until_indexed(RunningAgent& r, const Deadline& d) {
  r.start();
  started_before(r, d);
  REQUIRE(r.agent->wait_for_output("catch-up done"));
  REQUIRE(r.agent->stop(SIGTERM) == 0);
}

}  // namespace expect_test


TEST_CASE("expect: no file by the deadline is one alert and one email, the late file one more") {
  SmtpServer smtp;
  REQUIRE_MESSAGE(smtp.started(), "python3 -m aiosmtpd did not start (apt install python3-aiosmtpd)");
  Receiver alerts;
  const expect_test::Deadline d = expect_test::deadline_in(std::chrono::seconds(3));
  RunningAgent r(expect_test::rules(d, alerts, &smtp), /*start_now=*/false);
  r.start();
  expect_test::started_before(r, d);
  write_file(r.in + "/note.txt", "not a csv: does not count");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(alerts.wait_for(1, std::chrono::seconds(8)));
  const Webhook missed = alerts.received()[0];
  CHECK(missed.method == "POST");
  CHECK(missed.header("webhook-id").rfind("msg_", 0) == 0);
  const auto body = nlohmann::json::parse(missed.body);
  CHECK(body["expectation"] == "*.csv by " + d.by);
  CHECK(body["folder"] == r.in);
  CHECK(body["due"] == expect_test::due_text(d));
  CHECK(body["seen"] == 0);
  CHECK(expect_test::Clock::now() >= d.at);
  REQUIRE(wait_until([&] { return smtp.messages().size() == 1; }, std::chrono::seconds(10)));
  CHECK(smtp.messages()[0].find("no file arrived in " + r.in) != std::string::npos);
  CHECK(smtp.messages()[0].find("ops@example.com") != std::string::npos);
  // The record is written beside the alert's delivery: either may come first.
  CHECK(wait_until([&] { return expect_test::expectations(r)[0]["outcome"] == "missed"; }));

  write_file(r.in + "/late.csv", "x");
  REQUIRE(alerts.wait_for(2));
  const auto arrived = nlohmann::json::parse(alerts.received()[1].body);
  CHECK(arrived["seen"] == 1);
  CHECK(arrived["path"] == r.in + "/late.csv");
  CHECK(arrived["due"] == expect_test::due_text(d));
  REQUIRE(wait_until([&] { return smtp.messages().size() == 2; }, std::chrono::seconds(10)));
  // The maildir does not keep the order: one email of each kind.
  const auto mails = smtp.messages();
  CHECK(std::count_if(mails.begin(), mails.end(), [](const std::string& m) {
          return m.find("no file arrived") != std::string::npos;
        }) == 1);
  CHECK(std::count_if(mails.begin(), mails.end(), [](const std::string& m) {
          return m.find("late.csv") != std::string::npos;
        }) == 1);
  REQUIRE(wait_until([&] { return expect_test::expectations(r)[0]["outcome"] == "late-arrived"; }));

  // Once per missed deadline: another late file is only a webhook of the folder.
  write_file(r.in + "/later.csv", "x");
  REQUIRE(wait_until([&] {
    for (const Webhook& w : r.receiver.received()) {
      if (w.param("path") == r.in + "/later.csv") return true;
    }
    return false;
  }));
  CHECK(expect_test::count_of(r.agent->output(), "expectation: late file arrived") == 1);
  CHECK(alerts.count() == 2);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("expect: a matching file before the deadline meets it, and nothing is sent") {
  Receiver alerts;
  const expect_test::Deadline d = expect_test::deadline_in(std::chrono::seconds(3));
  RunningAgent r(expect_test::rules(d, alerts, nullptr, "status_listen = \"127.0.0.1:0\"\n"),
                 /*start_now=*/false);
  r.start();
  expect_test::started_before(r, d);
  write_file(r.in + "/report.csv", "x");
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(wait_until([&] { return expect_test::expectations(r)[0]["outcome"] == "met"; },
                     std::chrono::seconds(8)));
  CHECK(expect_test::expectations(r)[0]["last_deadline"] == expect_test::due_text(d));
  CHECK(alerts.count() == 0);
  CHECK(r.agent->output().find("expectation missed") == std::string::npos);
  // The status endpoint says the same.
  httplib::Client client("127.0.0.1", status_port(*r.agent));
  const auto res = client.Get("/expectations");
  REQUIRE(res);
  CHECK(res->status == 200);
  const auto listed = nlohmann::json::parse(res->body);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["folder"] == r.in);
  CHECK(listed[0]["include"] == "*.csv");
  CHECK(listed[0]["outcome"] == "met");
  CHECK(listed[0]["last_deadline"] == expect_test::due_text(d));
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("expect: a deadline that passed while the agent was stopped is judged once, at start") {
  Receiver alerts;
  const expect_test::Deadline d = expect_test::deadline_in(std::chrono::seconds(3));
  RunningAgent r(expect_test::rules(d, alerts), /*start_now=*/false);
  expect_test::run_until_indexed(r, d);
  REQUIRE(wait_until([&] { return expect_test::Clock::now() > d.at + std::chrono::seconds(1); }));
  CHECK(alerts.count() == 0);

  r.start();  // judged at start: missed
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(alerts.wait_for(1));
  CHECK(nlohmann::json::parse(alerts.received()[0].body)["due"] == expect_test::due_text(d));
  REQUIRE(r.agent->wait_for_output("catch-up done"));
  REQUIRE(r.agent->stop(SIGTERM) == 0);

  r.start();  // judged already: the next message is the late file's, not the alert again
  REQUIRE(r.agent->wait_for_output("catch-up done"));
  write_file(r.in + "/late.csv", "x");
  REQUIRE(alerts.wait_for(2));
  CHECK(nlohmann::json::parse(alerts.received()[1].body)["seen"] == 1);
  CHECK(alerts.count() == 2);
  CHECK(r.agent->stop(SIGTERM) == 0);
}

TEST_CASE("expect: a file written while the agent was stopped meets the deadline judged at start") {
  Receiver alerts;
  const expect_test::Deadline d = expect_test::deadline_in(std::chrono::seconds(3));
  RunningAgent r(expect_test::rules(d, alerts), /*start_now=*/false);
  expect_test::run_until_indexed(r, d);
  write_file(r.in + "/while-stopped.csv", "x");
  REQUIRE(wait_until([&] { return expect_test::Clock::now() > d.at + std::chrono::seconds(1); }));
  r.start();
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(wait_until([&] { return expect_test::expectations(r)[0]["outcome"] == "met"; }));
  CHECK(alerts.count() == 0);
  CHECK(r.agent->stop(SIGTERM) == 0);
}
