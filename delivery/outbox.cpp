#include "delivery/outbox.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include "delivery/request_codec.h"
#include "delivery/sqlite_stmt.h"
#include "delivery/state_dir.h"

namespace folderhook::delivery {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  request BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at_ms INTEGER NOT NULL DEFAULT 0,
  enqueued_ms INTEGER NOT NULL,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '');
-- Retries by due time, for the window to read back the ones due (window.h).
CREATE INDEX IF NOT EXISTS outbox_retry_due ON outbox(next_at_ms) WHERE attempts > 0;
CREATE TABLE IF NOT EXISTS dead_letters(
  id TEXT PRIMARY KEY,
  request BLOB NOT NULL,
  rule BLOB NOT NULL,
  path BLOB NOT NULL,
  urls TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_status INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  last_body BLOB NOT NULL,
  died_ms INTEGER NOT NULL,
  notified INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS url_stats(
  url TEXT PRIMARY KEY,
  last_status INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  consecutive_failures INTEGER NOT NULL,
  last_success_ms INTEGER NOT NULL,
  last_attempt_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS file_index(
  path BLOB PRIMARY KEY,
  directory INTEGER NOT NULL,
  dev INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  mode INTEGER,
  gid INTEGER,
  acl INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indexed_roots(
  path BLOB PRIMARY KEY);
CREATE TABLE IF NOT EXISTS notify_state(
  rule BLOB PRIMARY KEY,
  last_sent_ms INTEGER NOT NULL);
-- The batch each pending delivery was sent in (batch_max > 1; lane.h), committed before the
-- batch is first sent so that every resend, also after a crash, has the same members and id.
CREATE TABLE IF NOT EXISTS outbox_batch(
  id TEXT PRIMARY KEY,
  batch_id TEXT NOT NULL,
  size INTEGER NOT NULL);
)sql";

// The permissions of an object (NULL: not known, a folder without `permissions = true`), added
// to file_index after its first release: an existing table gets them as NULL columns.
constexpr const char* kFileIndexPermissions[] = {"mode", "gid", "acl"};

bool add_missing_columns(sqlite3* db, std::string& error) {
  Stmt info(db, "SELECT name FROM pragma_table_info('file_index')");
  std::vector<std::string> have;
  if (!info.each_row([&](Stmt& row) { have.push_back(row.bytes(0)); })) {
    error = sqlite3_errmsg(db);
    return false;
  }
  for (const char* column : kFileIndexPermissions) {
    if (std::find(have.begin(), have.end(), column) != have.end()) continue;
    const std::string sql = std::string("ALTER TABLE file_index ADD COLUMN ") + column + " INTEGER";
    if (!exec(db, sql.c_str(), error)) return false;
  }
  return true;
}

}  // namespace

std::map<std::string, UrlSummary> summarize_url_outcomes(const std::vector<UrlOutcome>& outcomes) {
  std::map<std::string, UrlSummary> out;
  for (const UrlOutcome& o : outcomes) {
    UrlSummary& s = out[o.url];
    s.last = &o;
    if (o.ok) {
      s.succeeded = true;
      s.last_success_ms = o.at_ms;
      s.failures_since_success = 0;
    } else {
      ++s.failures_since_success;
    }
  }
  return out;
}

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<StateLock> StateLock::acquire(const std::string& state_dir, std::string& error) {
  if (!create_state_dir(state_dir, error)) return nullptr;
  const std::string path = state_dir + "/lock";
  const int fd = open_private_file(path, O_RDWR, error);
  if (fd < 0) return nullptr;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
      pid.erase(std::remove(pid.begin(), pid.end(), '\n'), pid.end());
      error = "state_dir '" + state_dir + "' is in use by another folderhook agent (pid " + pid +
              "); stop it or choose another state_dir";
    } else {
      error = "cannot lock '" + path + "': " + std::strerror(err);
    }
    return nullptr;
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only a courtesy for the error message above; the lock is what matters.
  }
  return std::unique_ptr<StateLock>(new StateLock(fd));
}

StateLock::~StateLock() {
  ::close(fd_);
}

std::unique_ptr<Outbox> Outbox::open_existing(const std::string& state_dir, std::string& error) {
  std::error_code ec;
  if (!std::filesystem::exists(state_dir + "/outbox.db", ec)) {
    error = "no outbox in state_dir '" + state_dir + "' (has the agent ever run there?)";
    return nullptr;
  }
  return open(state_dir, error);
}

std::unique_ptr<Outbox> Outbox::open(const std::string& state_dir, std::string& error) {
  if (!create_state_dir(state_dir, error)) return nullptr;
  const std::string path = state_dir + "/outbox.db";
  // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database's
  // mode, whatever the umask.
  const int fd = open_private_file(path, O_RDWR, error);
  if (fd < 0) return nullptr;
  ::close(fd);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    error = "cannot open '" + path + "': " + (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<Outbox> outbox(new Outbox(db));
  sqlite3_busy_timeout(db, 5000);
  // synchronous=FULL: a commit survives a power cut, not only a crash; group commit keeps the
  // fsync count down to one per batch.
  std::string err;
  if (!exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err) ||
      !exec(db, kSchema, err) || !add_missing_columns(db, err)) {
    error = "cannot initialise '" + path + "': " + err;
    return nullptr;
  }
  Stmt any_batch(db, "SELECT EXISTS(SELECT 1 FROM outbox_batch)");
  outbox->batches_stored_ =
      !any_batch.ok() || any_batch.step() != SQLITE_ROW || any_batch.i64(0) != 0;
  return outbox;
}

Outbox::Outbox(sqlite3* db) : db_(db) {}

Outbox::~Outbox() {
  statements_.clear();  // finalized before the connection closes
  sqlite3_close(db_);
}

Stmt& Outbox::statement(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<Stmt>(db_, sql);
  return *slot;
}

bool Outbox::run_cached(const char* sql, std::string& error) {
  Stmt& stmt = statement(sql);
  if (stmt.ok() && stmt.run()) return true;
  error = sqlite3_errmsg(db_);
  return false;
}

void Outbox::limit_pages_for_test(int64_t pages) {
  std::string err;
  exec(db_, ("PRAGMA max_page_count=" + std::to_string(pages)).c_str(), err);
}

bool Outbox::set_synced(bool full, std::string& error) {
  return exec(db_, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", error);
}

bool Outbox::commit(const Batch& batch, std::vector<int64_t>& seqs, std::string& error,
                    bool& disk_full) {
  disk_full = false;
  seqs.clear();
  auto fail = [&] {
    const int code = sqlite3_errcode(db_);
    error = sqlite3_errmsg(db_);
    disk_full =
        code == SQLITE_FULL || (code == SQLITE_IOERR && sqlite3_system_errno(db_) == ENOSPC);
    std::string ignored;
    run_cached("ROLLBACK", ignored);
    seqs.clear();
    return false;
  };
  if (!run_cached("BEGIN IMMEDIATE", error)) {
    disk_full = sqlite3_errcode(db_) == SQLITE_FULL;
    return false;
  }
  const int64_t now = unix_ms_now();
  if (!batch.inserts.empty()) {
    Stmt& ins =
        statement("INSERT OR IGNORE INTO outbox(id, request, enqueued_ms) VALUES(?1, ?2, ?3)");
    if (!ins.ok()) return fail();
    for (const auto& r : batch.inserts) {
      ins.bind(1, r.id).bind_blob(2, encode_request(r)).bind(3, now);
      if (!ins.run()) return fail();
      // 0 marks an id that was already pending (a replay of a pending delivery).
      seqs.push_back(sqlite3_changes(db_) > 0 ? sqlite3_last_insert_rowid(db_) : 0);
    }
  }
  if (!batch.batch_marks.empty()) {
    batches_stored_ = true;
    Stmt& mark =
        statement("INSERT OR REPLACE INTO outbox_batch(id, batch_id, size) VALUES(?1, ?2, ?3)");
    if (!mark.ok()) return fail();
    for (const auto& m : batch.batch_marks) {
      for (const auto& id : m.member_ids) {
        if (!mark.bind(1, id)
                 .bind(2, m.batch_id)
                 .bind(3, static_cast<int64_t>(m.member_ids.size()))
                 .run()) {
          return fail();
        }
      }
    }
  }
  // A delivered or dead member leaves its batch: a replay of it is a new delivery.
  Stmt& unmark = statement("DELETE FROM outbox_batch WHERE id = ?1");
  if (!unmark.ok()) return fail();
  if (!batch.delivered.empty()) {
    // By seq when it is known: the row itself, not a search of the id index first. seq is
    // AUTOINCREMENT, never reused, and the id must match too.
    Stmt& by_seq = statement("DELETE FROM outbox WHERE seq = ?1 AND id = ?2");
    Stmt& by_id = statement("DELETE FROM outbox WHERE id = ?1");
    if (!by_seq.ok() || !by_id.ok()) return fail();
    for (const auto& row : batch.delivered) {
      const bool deleted =
          row.seq != 0 ? by_seq.bind(1, row.seq).bind(2, row.id).run() : by_id.bind(1, row.id).run();
      if (!deleted || (batches_stored_ && !unmark.bind(1, row.id).run())) return fail();
    }
  }
  if (!batch.retries.empty()) {
    Stmt& upd = statement(
        "UPDATE outbox SET attempts = ?2, next_at_ms = ?3, last_status = ?4, "
        "last_error = ?5 WHERE id = ?1");
    if (!upd.ok()) return fail();
    for (const auto& r : batch.retries) {
      if (!upd.bind(1, r.id)
               .bind(2, r.attempts)
               .bind(3, r.next_at_ms)
               .bind(4, r.status)
               .bind(5, r.error)
               .run()) {
        return fail();
      }
    }
  }
  if (!batch.dead.empty()) {
    Stmt& ins = statement(
        "INSERT OR REPLACE INTO dead_letters(id, request, rule, path, urls, attempts, "
        "last_status, last_error, last_body, died_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    Stmt& del = statement("DELETE FROM outbox WHERE id = ?1");
    if (!ins.ok() || !del.ok()) return fail();
    for (const auto& d : batch.dead) {
      std::string urls;
      for (const auto& u : d.request.urls) {
        if (!urls.empty()) urls += ' ';
        urls += u;
      }
      ins.bind(1, d.request.id)
          .bind_blob(2, encode_request(d.request))
          .bind_blob(3, d.request.rule)
          .bind_blob(4, d.request.path)
          .bind(5, urls)
          .bind(6, d.attempts)
          .bind(7, d.status)
          .bind(8, d.error)
          .bind_blob(9, d.body)
          .bind(10, d.died_ms);
      if (!ins.run() || !del.bind(1, d.request.id).run() || !unmark.bind(1, d.request.id).run()) {
        return fail();
      }
    }
  }
  if (!batch.url_outcomes.empty()) {
    // One row per URL per commit, however many attempts the batch holds (a burst of
    // thousands to one URL is one upsert).
    Stmt& up = statement(
        "INSERT INTO url_stats(url, last_status, last_error, consecutive_failures, "
        "last_success_ms, last_attempt_ms) VALUES(?1, ?2, ?3, ?6, "
        "CASE WHEN ?4 THEN ?7 ELSE 0 END, ?5) "
        "ON CONFLICT(url) DO UPDATE SET last_status = excluded.last_status, "
        "last_error = excluded.last_error, "
        "consecutive_failures = CASE WHEN ?4 THEN ?6 ELSE url_stats.consecutive_failures + ?6 END, "
        "last_success_ms = CASE WHEN ?4 THEN ?7 ELSE url_stats.last_success_ms END, "
        "last_attempt_ms = ?5");
    if (!up.ok()) return fail();
    for (const auto& [url, s] : summarize_url_outcomes(batch.url_outcomes)) {
      const UrlOutcome& last = *s.last;
      if (!up.bind(1, url)
               .bind(2, last.status)
               .bind(3, last.error)
               .bind(4, s.succeeded ? 1 : 0)
               .bind(5, last.at_ms)
               .bind(6, s.failures_since_success)
               .bind(7, s.last_success_ms)
               .run()) {
        return fail();
      }
    }
  }
  if (!batch.index_changes.empty() && !apply_index_changes(batch.index_changes)) return fail();
  if (!run_cached("COMMIT", error)) return fail();
  return true;
}

bool Outbox::dead_summaries(std::vector<DeadSummary>& out, std::string& error) {
  Stmt q(db_,
         "SELECT rule, id, path, urls, last_error, last_status, died_ms FROM dead_letters "
         "WHERE notified = 0 ORDER BY rule, died_ms");
  const bool read = q.each_row([&](Stmt& row) {
    const std::string rule = row.bytes(0);
    if (out.empty() || out.back().rule != rule) {
      out.push_back(DeadSummary{});
      out.back().rule = rule;
      out.back().first_died_ms = row.i64(6);
    }
    auto& s = out.back();
    ++s.count;
    s.ids.push_back(row.bytes(1));
    if (s.sample_paths.size() < 10) s.sample_paths.push_back(row.bytes(2));
    std::string urls = row.bytes(3);
    size_t start = 0;
    while (start <= urls.size()) {
      const auto end = std::min(urls.find(' ', start), urls.size());
      std::string url = urls.substr(start, end - start);
      if (!url.empty() && std::find(s.urls.begin(), s.urls.end(), url) == s.urls.end()) {
        s.urls.push_back(url);
      }
      start = end + 1;
    }
    s.last_error = row.bytes(4);
    s.last_status = static_cast<int>(row.i64(5));
    s.last_died_ms = row.i64(6);
  });
  if (!read) error = sqlite3_errmsg(db_);
  return read;
}

bool Outbox::mark_notified(const DeadSummary& summary, int64_t now_ms, std::string& error) {
  if (!exec(db_, "BEGIN IMMEDIATE", error)) return false;
  Stmt upd(db_, "UPDATE dead_letters SET notified = 1 WHERE id = ?1");
  Stmt st(db_, "INSERT OR REPLACE INTO notify_state(rule, last_sent_ms) VALUES(?1, ?2)");
  bool ok = upd.ok() && st.ok();
  for (size_t i = 0; ok && i < summary.ids.size(); ++i) ok = upd.bind(1, summary.ids[i]).run();
  ok = ok && st.bind_blob(1, summary.rule).bind(2, now_ms).run();
  if (!ok || !exec(db_, "COMMIT", error)) {
    if (!ok) error = sqlite3_errmsg(db_);
    std::string ignored;
    exec(db_, "ROLLBACK", ignored);
    return false;
  }
  return true;
}

int64_t Outbox::last_notified_ms(const std::string& rule) {
  Stmt q(db_, "SELECT last_sent_ms FROM notify_state WHERE rule = ?1");
  if (!q.ok()) return 0;
  q.bind_blob(1, rule);
  return q.step() == SQLITE_ROW ? q.i64(0) : 0;
}

}  // namespace folderhook::delivery
