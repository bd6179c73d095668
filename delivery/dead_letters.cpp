#include "delivery/dead_letters.h"

#include <algorithm>

#include "delivery/outbox.h"
#include "delivery/request_codec.h"
#include "delivery/sqlite_stmt.h"

namespace folderhook::delivery {
namespace {

std::vector<std::string> split_urls(const std::string& text) {
  std::vector<std::string> urls;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find(' ', start), text.size());
    if (end > start) urls.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return urls;
}

}  // namespace

std::optional<std::vector<DeadLetterRow>> list_dead_letters(const std::string& state_dir,
                                                            std::string& error) {
  auto outbox = Outbox::open_existing(state_dir, error);
  if (!outbox) return std::nullopt;
  sqlite3* db = outbox->handle();
  Stmt q(db,
         "SELECT id, request, path, urls, attempts, last_status, last_error, died_ms "
         "FROM dead_letters ORDER BY died_ms, id");
  std::vector<DeadLetterRow> rows;
  const bool read = q.each_row([&](Stmt& found) {
    DeadLetterRow row;
    row.id = found.bytes(0);
    if (const auto request = decode_request(found.bytes(1))) row.action = request->action;
    row.path = found.bytes(2);
    row.urls = split_urls(found.bytes(3));
    row.attempts = static_cast<int>(found.i64(4));
    row.last_status = static_cast<int>(found.i64(5));
    row.last_error = found.bytes(6);
    row.died_ms = found.i64(7);
    rows.push_back(std::move(row));
  });
  if (!read) {
    error = sqlite3_errmsg(db);
    return std::nullopt;
  }
  return rows;
}

int replay_dead_letters(const std::string& state_dir, std::optional<int64_t> since_unix_ms,
                        const std::optional<std::string>& id, const ReplayRewrite& rewrite,
                        std::string& error) {
  auto outbox = Outbox::open_existing(state_dir, error);
  if (!outbox) return -1;
  sqlite3* db = outbox->handle();
  if (!exec(db, "BEGIN IMMEDIATE", error)) return -1;
  Stmt pick(db,
            "SELECT id, request FROM dead_letters WHERE (?1 IS NULL OR died_ms >= ?1) "
            "AND (?2 IS NULL OR id = ?2) ORDER BY died_ms");
  // OR IGNORE: an id already pending (replayed twice before the agent sent it) stays as it is.
  Stmt ins(db,
           "INSERT OR IGNORE INTO outbox(id, request, attempts, next_at_ms, enqueued_ms) "
           "VALUES(?1, ?2, 0, 0, ?3)");
  Stmt del(db, "DELETE FROM dead_letters WHERE id = ?1");
  bool ok = pick.ok() && ins.ok() && del.ok();
  int moved = 0;
  if (ok) {
    since_unix_ms ? pick.bind(1, *since_unix_ms) : pick.bind_null(1);
    id ? pick.bind(2, *id) : pick.bind_null(2);
    // Read them all first: the rows are deleted as they move.
    std::vector<std::pair<std::string, std::string>> picked;
    ok = pick.each_row([&](Stmt& row) { picked.emplace_back(row.bytes(0), row.bytes(1)); });
    const int64_t now = unix_ms_now();
    for (size_t i = 0; ok && i < picked.size(); ++i) {
      auto& [row_id, blob] = picked[i];
      if (const auto stored = decode_request(blob)) {
        Request replayed = rewrite(*stored);
        replayed.id = row_id;
        blob = encode_request(replayed);
      }
      ok = ins.bind(1, row_id).bind_blob(2, blob).bind(3, now).run() && del.bind(1, row_id).run();
      ++moved;
    }
  }
  if (!ok || !exec(db, "COMMIT", error)) {
    if (!ok) error = sqlite3_errmsg(db);
    std::string ignored;
    exec(db, "ROLLBACK", ignored);
    return -1;
  }
  return moved;
}

}  // namespace folderhook::delivery
