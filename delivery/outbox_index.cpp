// Outbox: the stored index (file_index, indexed_roots), written in the same transaction as
// the deliveries (Outbox::commit) and read back whole at start and for each rescan.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "delivery/outbox.h"
#include "delivery/sqlite_stmt.h"

namespace folderhook::delivery {

namespace {

// Paths at or beneath `path` are `path` itself and the range [path + "/", path + "0"): '0'
// follows '/', and blobs compare bytewise.
std::string range_lo(const std::string& path) {
  return path == "/" ? "/" : path + "/";
}
std::string range_hi(const std::string& path) {
  return path == "/" ? "0" : path + "0";
}

int64_t as_i64(uint64_t v) {
  return static_cast<int64_t>(v);
}

// A row of "SELECT path, directory, dev, ino, size, mtime_ns, ctime_ns, uid, mode, gid, acl".
IndexRow read_index_row(Stmt& stmt) {
  IndexRow r;
  r.path = stmt.bytes(0);
  r.directory = stmt.i64(1) != 0;
  r.dev = static_cast<uint64_t>(stmt.i64(2));
  r.ino = static_cast<uint64_t>(stmt.i64(3));
  r.size = static_cast<uint64_t>(stmt.i64(4));
  r.mtime_ns = stmt.i64(5);
  r.ctime_ns = stmt.i64(6);
  r.uid = static_cast<uint32_t>(stmt.i64(7));
  r.permissions = !stmt.is_null(8);  // NULL: not recorded (an older row, or no permissions)
  if (r.permissions) {
    r.mode = static_cast<uint32_t>(stmt.i64(8));
    r.gid = static_cast<uint32_t>(stmt.i64(9));
    r.acl = static_cast<uint64_t>(stmt.i64(10));
  }
  return r;
}

}  // namespace

bool Outbox::apply_index_changes(const std::vector<IndexChange>& changes) {
  Stmt& put = statement(
      "INSERT OR REPLACE INTO file_index(path, directory, dev, ino, size, mtime_ns, "
      "ctime_ns, uid, mode, gid, acl) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  Stmt& erase = statement("DELETE FROM file_index WHERE path = ?1 OR (path >= ?2 AND path < ?3)");
  Stmt& beneath = statement("DELETE FROM file_index WHERE path >= ?1 AND path < ?2");
  Stmt& select = statement(
      "SELECT path, directory, dev, ino, size, mtime_ns, ctime_ns, uid, mode, gid, acl "
      "FROM file_index "
      "WHERE path = ?1 OR (path >= ?2 AND path < ?3)");
  Stmt& root = statement("INSERT OR IGNORE INTO indexed_roots(path) VALUES(?1)");
  Stmt& relist = statement("UPDATE file_index SET ctime_ns = 0 WHERE path = ?1");
  if (!put.ok() || !erase.ok() || !beneath.ok() || !select.ok() || !root.ok() || !relist.ok()) {
    return false;
  }
  const auto put_row = [&](const IndexRow& r) {
    put.bind_blob(1, r.path)
        .bind(2, r.directory ? 1 : 0)
        .bind(3, as_i64(r.dev))
        .bind(4, as_i64(r.ino))
        .bind(5, as_i64(r.size))
        .bind(6, r.mtime_ns)
        .bind(7, r.ctime_ns)
        .bind(8, int64_t{r.uid});
    if (r.permissions) {
      put.bind(9, int64_t{r.mode}).bind(10, int64_t{r.gid}).bind(11, as_i64(r.acl));
    } else {
      put.bind_null(9).bind_null(10).bind_null(11);
    }
    return put.run();
  };
  const auto erase_tree = [&](const std::string& path) {
    return erase.bind_blob(1, path).bind_blob(2, range_lo(path)).bind_blob(3, range_hi(path)).run();
  };
  const auto erase_beneath = [&](const std::string& path) {
    return beneath.bind_blob(1, range_lo(path)).bind_blob(2, range_hi(path)).run();
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    const IndexChange& change = changes[i];
    const std::string& path = change.row.path;
    switch (change.kind) {
      case IndexChange::Kind::kPut:
        if (!put_row(change.row)) return false;
        break;
      case IndexChange::Kind::kErase: {
        // Followed by a put of the same path (a file created where a directory may have been,
        // agent/index_sync.cpp): the put replaces the path's own row, so only the rows beneath
        // it are deleted here. One range instead of a lookup and a range, for each create.
        const bool put_next = i + 1 < changes.size() &&
                              changes[i + 1].kind == IndexChange::Kind::kPut &&
                              changes[i + 1].row.path == path;
        if (!(put_next ? erase_beneath(path) : erase_tree(path))) return false;
        break;
      }
      case IndexChange::Kind::kRootIndexed:
        if (!root.bind_blob(1, path).run()) return false;
        break;
      case IndexChange::Kind::kRelist:
        if (!relist.bind_blob(1, path).run()) return false;
        break;
      case IndexChange::Kind::kMove: {
        if (path == change.destination) break;
        std::vector<IndexRow> moved;
        select.bind_blob(1, path).bind_blob(2, range_lo(path)).bind_blob(3, range_hi(path));
        int rc;
        while ((rc = select.step()) == SQLITE_ROW) {
          IndexRow r = read_index_row(select);
          r.path = change.destination + r.path.substr(path.size());
          moved.push_back(std::move(r));
        }
        select.reset();
        if (rc != SQLITE_DONE) return false;
        if (!erase_tree(path) || !erase_tree(change.destination)) return false;
        for (const IndexRow& r : moved) {
          if (!put_row(r)) return false;
        }
        break;
      }
    }
  }
  return true;
}

bool Outbox::load_index(IndexSnapshot& out, std::string& error) {
  Stmt rows(db_,
            "SELECT path, directory, dev, ino, size, mtime_ns, ctime_ns, uid, mode, gid, acl "
            "FROM file_index ORDER BY path");
  if (!rows.each_row([&](Stmt& row) { out.rows.push_back(read_index_row(row)); })) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  return load_indexed_roots(out.indexed_roots, error);
}

bool Outbox::load_indexed_roots(std::vector<std::string>& out, std::string& error) {
  Stmt roots(db_, "SELECT path FROM indexed_roots ORDER BY path");
  if (!roots.each_row([&](Stmt& row) { out.push_back(row.bytes(0)); })) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

}  // namespace folderhook::delivery
