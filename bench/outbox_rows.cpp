// What a pending request costs the outbox's table, beside a plain append-only file: the
// writer thread's SQLite work per delivery, apart from everything else the agent does. Rows of
// the outbox's shape (its schema, or without the id index or AUTOINCREMENT) are inserted 40 to
// a commit, and each commit deletes 40 rows inserted 2,000 rows earlier (a burst on its way to
// the receiver), in WAL mode with synchronous=NORMAL and no checkpoint: the CPU (user+sys) per
// row, insert and delete together. "file" appends the same bytes and an 8-byte done mark per
// row to a file instead, one write() per commit. Not built by CMake or bench/run:
//
//   g++ -O2 -o /tmp/outbox_rows bench/outbox_rows.cpp -lsqlite3
//   /tmp/outbox_rows VARIANT BYTES DIR    VARIANT: full | noid | noauto | noid-noauto | file
//
// Prints "VARIANT BYTES: C us/row". Makes and removes t.db, t.db-wal, t.db-shm, t.log in DIR.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <utility>

namespace {

constexpr int kRows = 100000;
constexpr int kPerCommit = 40;
constexpr size_t kInFlight = 2000;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void run_sql(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(), message);
    std::exit(1);
  }
}

sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    std::exit(1);
  }
  return stmt;
}

void step(sqlite3_stmt* stmt) {
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    std::fprintf(stderr, "step: %s\n", sqlite3_errstr(rc));
    std::exit(1);
  }
}

std::string id_of(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "msg_%032d", n);
  return id;
}

double append_to_file(const std::string& dir, const std::string& payload) {
  const int fd = ::open((dir + "/t.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0) std::exit(1);
  const double start = cpu_seconds();
  std::string bytes;
  for (int i = 0; i < kRows; i += kPerCommit) {
    bytes.clear();
    for (int k = 0; k < kPerCommit; ++k) bytes += id_of(i + k) + payload;
    if (static_cast<size_t>(i) >= kInFlight) bytes.append(8 * kPerCommit, 'd');
    if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) std::exit(1);
  }
  const double spent = cpu_seconds() - start;
  ::close(fd);
  return spent;
}

double rows_in_table(const std::string& dir, const std::string& variant,
                     const std::string& payload) {
  sqlite3* db = nullptr;
  if (sqlite3_open((dir + "/t.db").c_str(), &db) != SQLITE_OK) std::exit(1);
  run_sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;");
  const bool autoincrement = variant.find("noauto") == std::string::npos;
  const bool id_index = variant.find("noid") == std::string::npos;
  run_sql(db, std::string("CREATE TABLE outbox(seq INTEGER PRIMARY KEY") +
                  (autoincrement ? " AUTOINCREMENT" : "") + ", id TEXT NOT NULL" +
                  (id_index ? " UNIQUE" : "") +
                  ", request BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
                  "next_at_ms INTEGER NOT NULL DEFAULT 0, enqueued_ms INTEGER NOT NULL, "
                  "last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');"
                  "CREATE INDEX outbox_retry_due ON outbox(next_at_ms) WHERE attempts > 0;");
  sqlite3_stmt* begin = prepare(db, "BEGIN IMMEDIATE");
  sqlite3_stmt* commit = prepare(db, "COMMIT");
  sqlite3_stmt* insert =
      prepare(db, "INSERT OR IGNORE INTO outbox(id, request, enqueued_ms) VALUES(?1, ?2, ?3)");
  sqlite3_stmt* remove = prepare(db, "DELETE FROM outbox WHERE seq = ?1 AND id = ?2");
  std::deque<std::pair<sqlite3_int64, std::string>> pending;
  const double start = cpu_seconds();
  for (int i = 0; i < kRows; i += kPerCommit) {
    step(begin);
    for (int k = 0; k < kPerCommit; ++k) {
      std::string id = id_of(i + k);
      sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 2, payload.data(), static_cast<int>(payload.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(insert, 3, 1);
      step(insert);
      pending.emplace_back(sqlite3_last_insert_rowid(db), std::move(id));
    }
    for (int k = 0; k < kPerCommit && pending.size() > kInFlight; ++k) {
      sqlite3_bind_int64(remove, 1, pending.front().first);
      sqlite3_bind_text(remove, 2, pending.front().second.c_str(), -1, SQLITE_TRANSIENT);
      step(remove);
      pending.pop_front();
    }
    step(commit);
  }
  const double spent = cpu_seconds() - start;
  for (sqlite3_stmt* stmt : {begin, commit, insert, remove}) sqlite3_finalize(stmt);
  sqlite3_close(db);
  return spent;
}

void remove_files(const std::string& dir) {
  for (const char* name : {"/t.db", "/t.db-wal", "/t.db-shm", "/t.log"}) {
    ::unlink((dir + name).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s full|noid|noauto|noid-noauto|file BYTES DIR\n", argv[0]);
    return 2;
  }
  const std::string variant = argv[1];
  const std::string dir = argv[3];
  const std::string payload(static_cast<size_t>(std::atoi(argv[2])), 'x');
  remove_files(dir);
  const double spent =
      variant == "file" ? append_to_file(dir, payload) : rows_in_table(dir, variant, payload);
  remove_files(dir);
  std::printf("%s %s: %.2f us/row\n", variant.c_str(), argv[2], spent * 1e6 / kRows);
  return 0;
}
