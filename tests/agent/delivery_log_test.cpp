#include "agent/delivery_log.h"

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "agent/log.h"
#include "delivery/dispatcher.h"

using folderhook::delivery::AttemptLog;

// The agent writes each attempt's line itself (no JSON object); delivery/'s Logger fallback
// builds the object. Receivers' operators parse these lines: they must be the same bytes.
TEST_CASE("an attempt's line is the line delivery's fields would give") {
  const auto ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764700000123));
  AttemptLog delivered{"0192d_x", "create", "/srv/in/a.txt", "http://127.0.0.1:8080/hook",
                       1,         200,      "",              3,
                       false,     AttemptLog::Outcome::kDelivered, 0, 0};
  AttemptLog retry = delivered;
  retry.outcome = AttemptLog::Outcome::kRetry;
  retry.status = 503;
  retry.error = "HTTP 503: \"busy\"\n";
  retry.next_at_ms = 1764700060000;
  retry.attempt = 2;
  AttemptLog dead = delivered;
  dead.outcome = AttemptLog::Outcome::kDead;
  dead.status = 0;
  dead.error = "connect: refused";
  dead.path = "/srv/in/r\xC3\xA9sum\xC3\xA9 \xFF\x01.pdf";
  dead.catch_up = true;
  AttemptLog batch = delivered;
  batch.members = 10;
  batch.url = "nats://127.0.0.1:4222/files.{action}";
  for (const AttemptLog& entry : {delivered, retry, dead, batch}) {
    CAPTURE(entry.path);
    AttemptLog copy = entry;
    const std::string expected = folderhook::agent::format_json_line(
        ts, folderhook::delivery::attempt_level(entry), "delivery",
        folderhook::delivery::attempt_fields(std::move(copy)));
    CHECK(folderhook::agent::format_attempt_line(ts, entry) == expected);
  }
  CHECK(folderhook::delivery::attempt_level(retry) == "warn");
  CHECK(folderhook::delivery::attempt_level(dead) == "error");
  CHECK(folderhook::agent::format_attempt_line(ts, retry).find(
            "\"next_at\":\"2025-12-02T18:27:40.000Z\"") != std::string::npos);
}
