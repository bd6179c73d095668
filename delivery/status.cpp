#include "delivery/status.h"

#include "delivery/attempt.h"
#include "delivery/sink_set.h"
#include "delivery/outbox.h"
#include "delivery/retry.h"
#include "delivery/sqlite_stmt.h"
#include "delivery/url.h"

namespace folderhook::delivery {
namespace {

nlohmann::json iso_or_null(int64_t ms) {
  return ms > 0 ? nlohmann::json(format_iso_utc(ms)) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json read_status(const std::string& state_dir, std::string& error) {
  auto outbox = Outbox::open_existing(state_dir, error);
  if (!outbox) return nullptr;
  sqlite3* db = outbox->handle();
  // One read transaction: the figures are one consistent snapshot even while the agent writes.
  if (!exec(db, "BEGIN", error)) return nullptr;
  nlohmann::json out;
  const int64_t now = unix_ms_now();
  {
    Stmt q(db,
           "SELECT COUNT(*), COALESCE(SUM(attempts > 0), 0), COALESCE(MIN(enqueued_ms), 0) "
           "FROM outbox");
    if (!q.ok() || q.step() != SQLITE_ROW) {
      error = sqlite3_errmsg(db);
      return nullptr;
    }
    out["pending"] = q.i64(0);
    out["retrying"] = q.i64(1);
    const int64_t oldest = q.i64(2);
    out["oldest_pending_at"] = iso_or_null(oldest);
    out["oldest_pending_age_s"] =
        oldest > 0 ? nlohmann::json((now - oldest) / 1000) : nlohmann::json(nullptr);
  }
  {
    Stmt q(db,
           "SELECT COUNT(*), COALESCE(SUM(notified = 0), 0), COALESCE(MAX(died_ms), 0) "
           "FROM dead_letters");
    if (!q.ok() || q.step() != SQLITE_ROW) {
      error = sqlite3_errmsg(db);
      return nullptr;
    }
    out["dead_letters"] = q.i64(0);
    out["dead_letters_not_emailed"] = q.i64(1);
    out["last_dead_at"] = iso_or_null(q.i64(2));
  }
  {
    Stmt q(db,
           "SELECT url, last_status, last_error, consecutive_failures, last_success_ms, "
           "last_attempt_ms FROM url_stats ORDER BY url");
    out["urls"] = nlohmann::json::array();
    // A failed step is an error, not a shorter list.
    if (!q.each_row([&](Stmt& row) {
          out["urls"].push_back({{"url", mask_url(row.bytes(0))},
                                 {"last_status", row.i64(1)},
                                 {"last_error", row.bytes(2)},
                                 {"consecutive_failures", row.i64(3)},
                                 {"last_success_at", iso_or_null(row.i64(4))},
                                 {"last_attempt_at", iso_or_null(row.i64(5))}});
        })) {
      error = sqlite3_errmsg(db);
      return nullptr;
    }
  }
  std::string ignored;
  exec(db, "COMMIT", ignored);
  return out;
}

std::vector<TestHookResult> send_test(const Request& request, const DispatcherOptions& options) {
  std::vector<TestHookResult> results;
  SinkSet sinks(sink_options(options));
  for (const auto& url : request.urls) {
    Request one = request;
    one.urls = {url};
    if (one.id.empty()) one.id = "msg_test_" + std::to_string(unix_ms_now());
    const AttemptResult r = run_attempt(one, sinks);
    results.push_back(TestHookResult{mask_url(url), r.status, r.error, r.ms, r.delivered});
  }
  return results;
}

}  // namespace folderhook::delivery
