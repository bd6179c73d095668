// The permissions kept in the stored index (mode, gid, ACL hash; NULL when not known): an
// outbox.db whose file_index was made before them gets them as NULL columns when it is opened,
// its rows kept and read back as "not known"; known values go in and come back whole.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <string>
#include <vector>

#include "delivery/outbox.h"
#include "tests/delivery/harness.h"

namespace folderhook::delivery {
namespace outbox_index_upgrade_test {

// The file_index of the release before the permissions, with one row in it.
void write_old_outbox(const std::string& state_dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((state_dir + "/outbox.db").c_str(), &db) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, R"sql(
CREATE TABLE file_index(
  path BLOB PRIMARY KEY,
  directory INTEGER NOT NULL,
  dev INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  uid INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO file_index VALUES(X'2F722F6F6C64', 0, 1, 7, 3, 100, 200, 1000);
)sql",
                              nullptr, nullptr, &msg);
  INFO((msg != nullptr ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::vector<IndexRow> stored(Outbox& outbox) {
  IndexSnapshot snapshot;
  std::string error;
  REQUIRE(outbox.load_index(snapshot, error));
  return snapshot.rows;
}

// How many rows hold NULL permissions, asked of SQLite itself.
int null_rows(const std::string& state_dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((state_dir + "/outbox.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT count(*) FROM file_index WHERE mode IS NULL AND gid IS NULL "
                             "AND acl IS NULL",
                             -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST_CASE("index upgrade: an index without permissions gains them as unknown, rows kept") {
  test::TempDir dir;
  write_old_outbox(dir.path());
  std::string error;
  {
    auto outbox = Outbox::open(dir.path(), error);
    REQUIRE_MESSAGE(outbox, error);
    const std::vector<IndexRow> rows = stored(*outbox);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].path == "/r/old");
    CHECK(rows[0].ino == 7);
    CHECK(rows[0].uid == 1000);
    CHECK_FALSE(rows[0].permissions);

    IndexChange known;
    known.row.path = "/r/new";
    known.row.ino = 8;
    known.row.uid = 65534;
    known.row.permissions = true;
    known.row.mode = 04750;
    known.row.gid = 4242;
    known.row.acl = 0xF00DFACE12345678ull;  // the top bit set: stored as a negative int64
    IndexChange moved;
    moved.kind = IndexChange::Kind::kMove;
    moved.row.path = "/r/new";
    moved.destination = "/r/newer";
    REQUIRE(test::commit_index_changes(*outbox, {known, moved}));
  }
  CHECK(null_rows(dir.path()) == 1);  // the old row: not known
  // Opened again: the columns are there already, nothing is added twice.
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  const std::vector<IndexRow> rows = stored(*outbox);
  REQUIRE(rows.size() == 2);
  const IndexRow& newer = rows[0].path == "/r/newer" ? rows[0] : rows[1];
  CHECK(newer.path == "/r/newer");  // moved with its permissions
  CHECK(newer.permissions);
  CHECK(newer.mode == 04750);
  CHECK(newer.gid == 4242);
  CHECK(newer.acl == 0xF00DFACE12345678ull);
  CHECK(newer.uid == 65534);

  // Put back without them (the folder stopped asking): unknown again.
  IndexChange unknown;
  unknown.row.path = "/r/newer";
  unknown.row.ino = 8;
  REQUIRE(test::commit_index_changes(*outbox, {unknown}));
  for (const IndexRow& row : stored(*outbox)) CHECK_FALSE(row.permissions);
}

}  // namespace outbox_index_upgrade_test
}  // namespace folderhook::delivery
