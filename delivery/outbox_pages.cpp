// Outbox's reads of pending rows: what the in-memory window (window.h) reads back from the
// outbox as it drains. The schema and the writes are in outbox.cpp.
#include <sqlite3.h>

#include <algorithm>

#include "delivery/outbox.h"
#include "delivery/request_codec.h"
#include "delivery/sqlite_stmt.h"

namespace folderhook::delivery {
namespace {

int64_t as_i64(size_t v) { return static_cast<int64_t>(v); }

int64_t single_i64(sqlite3* db, const char* sql, int64_t bound, bool bind) {
  Stmt q(db, sql);
  if (!q.ok()) return 0;
  if (bind) q.bind(1, bound);
  return q.step() == SQLITE_ROW ? q.i64(0) : 0;
}

// Steps a query whose first column is a seq.
bool collect_seqs(sqlite3* db, Stmt& q, std::vector<int64_t>& seqs, std::string& error) {
  int rc = q.ok() ? SQLITE_ROW : SQLITE_ERROR;
  while (rc == SQLITE_ROW && (rc = q.step()) == SQLITE_ROW) seqs.push_back(q.i64(0));
  if (rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db);
    return false;
  }
  return true;
}

// The start of every query for pending rows: their columns, with the batch each one is in
// (none, without a lookup, when outbox_batch holds no rows).
std::string row_select(bool batches, const char* rest) {
  return std::string(batches ? "SELECT seq, request, attempts, next_at_ms, b.batch_id, b.size "
                               "FROM outbox LEFT JOIN outbox_batch b USING(id) "
                             : "SELECT seq, request, attempts, next_at_ms, NULL, 0 FROM outbox ") +
         rest;
}

// The current row of a row_select query. An unreadable request leaves the row's request empty
// and its first byte in unreadable_encoding.
PendingRow pending_row(Stmt& q) {
  PendingRow row{q.i64(0), {}, static_cast<int>(q.i64(2)), q.i64(3), q.bytes(4),
                 static_cast<size_t>(std::max<int64_t>(0, q.i64(5))), std::nullopt};
  const std::string_view blob = q.view(1);
  auto request = decode_request(blob);
  if (request) {
    row.request = std::move(*request);
  } else {
    row.unreadable_encoding = blob.empty() ? -1 : static_cast<unsigned char>(blob.front());
  }
  return row;
}

}  // namespace

bool Outbox::load_pending(int64_t after_seq, std::vector<PendingRow>& rows, std::string& error) {
  Stmt q(db_, row_select(batches_stored_, "WHERE seq > ?1 ORDER BY seq").c_str());
  if (!q.ok()) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  q.bind(1, after_seq);
  if (!q.each_row([&](Stmt& found) {
        PendingRow row = pending_row(found);
        if (!row.unreadable_encoding) rows.push_back(std::move(row));  // the others stay
      })) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool Outbox::load_row(int64_t seq, std::optional<PendingRow>& row, std::string& error) {
  Stmt q(db_, row_select(batches_stored_, "WHERE seq = ?1").c_str());
  if (!q.ok()) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  q.bind(1, seq);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    row = pending_row(q);
    return true;
  }
  if (rc != SQLITE_DONE) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool Outbox::load_first_page(int64_t after_seq, size_t limit, std::vector<PendingRow>& rows,
                             std::string& error) {
  // The primary key walks seq upwards; retries (attempts > 0) in between are skipped.
  Stmt q(db_,
         row_select(batches_stored_, "WHERE seq > ?1 AND attempts = 0 ORDER BY seq LIMIT ?2")
             .c_str());
  if (!q.ok()) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  q.bind(1, after_seq).bind(2, as_i64(limit));
  // An unreadable row still moves the cursor (seq kept, request empty, unreadable_encoding
  // set): the caller skips it, and it stays in the table.
  if (!q.each_row([&](Stmt& found) { rows.push_back(pending_row(found)); })) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool Outbox::pending_seqs(int64_t after_seq, std::vector<int64_t>& seqs, std::string& error) {
  Stmt q(db_, "SELECT seq FROM outbox WHERE seq > ?1 ORDER BY seq");
  if (q.ok()) q.bind(1, after_seq);
  return collect_seqs(db_, q, seqs, error);
}

bool Outbox::due_retry_seqs(int64_t now_ms, size_t limit, std::vector<int64_t>& seqs,
                            std::string& error) {
  Stmt q(db_,
         "SELECT seq FROM outbox WHERE attempts > 0 AND next_at_ms <= ?1 "
         "ORDER BY next_at_ms LIMIT ?2");
  if (q.ok()) q.bind(1, now_ms).bind(2, as_i64(limit));
  return collect_seqs(db_, q, seqs, error);
}

int64_t Outbox::next_retry_after(int64_t now_ms) {
  return single_i64(db_,
                    "SELECT MIN(next_at_ms) FROM outbox WHERE attempts > 0 AND next_at_ms > ?1",
                    now_ms, true);
}

int64_t Outbox::max_seq() { return single_i64(db_, "SELECT MAX(seq) FROM outbox", 0, false); }

int64_t Outbox::pending_count() {
  return single_i64(db_, "SELECT COUNT(*) FROM outbox", 0, false);
}

}  // namespace folderhook::delivery
