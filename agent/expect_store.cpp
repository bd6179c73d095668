#include "agent/expect_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "agent/webhook.h"

namespace folderhook::agent {
namespace {

constexpr const char* kStoreFile = "/expectations.db";
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS expectation("
    " folder TEXT NOT NULL, name TEXT NOT NULL, last_deadline_s INTEGER NOT NULL,"
    " outcome TEXT NOT NULL, seen_ms INTEGER NOT NULL, seen_path BLOB NOT NULL,"
    " include TEXT NOT NULL, next_deadline_s INTEGER NOT NULL,"
    " PRIMARY KEY(folder, name))";

struct Closer {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Db = std::unique_ptr<sqlite3, Closer>;

Db open_db(const std::string& path, int flags, std::string& error) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    error = "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return nullptr;
  }
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

bool exec(sqlite3* db, const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
  error = msg ? msg : "sqlite error";
  sqlite3_free(msg);
  return false;
}

std::string column_text(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

}  // namespace

std::optional<std::vector<ExpectRecord>> load_expect_records(const std::string& state_dir,
                                                             std::string& error) {
  const std::string path = state_dir + kStoreFile;
  std::vector<ExpectRecord> out;
  if (::access(path.c_str(), F_OK) != 0) return out;
  Db db = open_db(path, SQLITE_OPEN_READONLY, error);
  if (!db) return std::nullopt;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT folder, name, last_deadline_s, outcome, seen_ms, seen_path, "
                         "include, next_deadline_s FROM expectation ORDER BY folder, name",
                         -1, &s, nullptr) != SQLITE_OK) {
    error = "cannot read " + path + ": " + sqlite3_errmsg(db.get());
    return std::nullopt;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    ExpectRecord r;
    r.folder = column_text(s, 0);
    r.name = column_text(s, 1);
    r.last_deadline_s = sqlite3_column_int64(s, 2);
    r.outcome = column_text(s, 3);
    r.seen_ms = sqlite3_column_int64(s, 4);
    r.seen_path = column_text(s, 5);
    r.include = column_text(s, 6);
    r.next_deadline_s = sqlite3_column_int64(s, 7);
    out.push_back(std::move(r));
  }
  sqlite3_finalize(s);
  return out;
}

bool save_expect_records(const std::string& state_dir, const std::vector<ExpectRecord>& records,
                         std::string& error) {
  const std::string path = state_dir + kStoreFile;
  // Created 0600 whatever the umask: it names watched files (state_dir's rule).
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  ::fchmod(fd, 0600);
  ::close(fd);
  Db db = open_db(path, SQLITE_OPEN_READWRITE, error);
  if (!db || !exec(db.get(), kSchema, error) || !exec(db.get(), "BEGIN IMMEDIATE", error)) {
    if (!db) return false;
    error = "cannot write " + path + ": " + error;
    return false;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "INSERT OR REPLACE INTO expectation(folder, name, last_deadline_s, outcome, "
                         "seen_ms, seen_path, include, next_deadline_s) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                         -1, &s, nullptr) != SQLITE_OK) {
    error = "cannot write " + path + ": " + sqlite3_errmsg(db.get());
    return false;
  }
  bool ok = true;
  for (const ExpectRecord& r : records) {
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, r.folder.data(), static_cast<int>(r.folder.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, r.name.data(), static_cast<int>(r.name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, r.last_deadline_s);
    sqlite3_bind_text(s, 4, r.outcome.data(), static_cast<int>(r.outcome.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, r.seen_ms);
    sqlite3_bind_blob(s, 6, r.seen_path.data(), static_cast<int>(r.seen_path.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 7, r.include.data(), static_cast<int>(r.include.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 8, r.next_deadline_s);
    if (sqlite3_step(s) != SQLITE_DONE) {
      error = "cannot write " + path + ": " + sqlite3_errmsg(db.get());
      ok = false;
      break;
    }
  }
  sqlite3_finalize(s);
  if (!ok) {
    exec(db.get(), "ROLLBACK", error);
    return false;
  }
  if (!exec(db.get(), "COMMIT", error)) {
    error = "cannot write " + path + ": " + error;
    return false;
  }
  return true;
}

nlohmann::json expectations_status(const std::string& state_dir, std::string& error) {
  const auto records = load_expect_records(state_dir, error);
  if (!records) return nullptr;
  auto iso = [](int64_t s) -> nlohmann::json {
    if (s == 0) return nullptr;
    return format_at(std::chrono::system_clock::time_point(std::chrono::seconds(s)));
  };
  nlohmann::json out = nlohmann::json::array();
  for (const ExpectRecord& r : *records) {
    // Before its first judged deadline, last_deadline_s is the one before the expectation
    // was first read: not a deadline it was judged at.
    const bool judged = !r.outcome.empty();
    out.push_back({{"folder", r.folder},
                   {"expectation", r.name},
                   {"include", r.include},
                   {"last_deadline", judged ? iso(r.last_deadline_s) : nullptr},
                   {"outcome", judged ? r.outcome : "none"},
                   {"next_deadline", iso(r.next_deadline_s)}});
  }
  return out;
}

}  // namespace folderhook::agent
