// A first start stores its index in batches while it walks: the real binary killed (SIGKILL)
// after some batches are stored but before its folder is indexed, then started again, must end
// with exactly the tree in the stored index and nothing reported for the folder.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "tests/support/running_agent.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

// The stored index and the folders marked indexed, read by a connection of the test's own
// (the outbox is in WAL mode: readable while the agent writes). Empty if it cannot be read yet.
struct Stored {
  std::map<std::string, bool> rows;  // path -> directory
  std::set<std::string> indexed;
};

Stored read_stored(const std::string& db_path) {
  Stored out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return out;
  }
  sqlite3_busy_timeout(db, 5000);
  const auto each = [&](const char* sql, auto&& f) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = static_cast<const char*>(sqlite3_column_blob(stmt, 0));
      f(std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, 0))), stmt);
    }
    sqlite3_finalize(stmt);
  };
  each("SELECT path, directory FROM file_index", [&](std::string path, sqlite3_stmt* stmt) {
    out.rows[std::move(path)] = sqlite3_column_int(stmt, 1) != 0;
  });
  each("SELECT path FROM indexed_roots",
       [&](std::string path, sqlite3_stmt*) { out.indexed.insert(std::move(path)); });
  sqlite3_close(db);
  return out;
}

// How many rows the stored index has (0 while the outbox does not exist yet).
int64_t count_rows(const std::string& db_path) {
  sqlite3* db = nullptr;
  int64_t n = 0;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT count(*) FROM file_index", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// Every object of the tree at `root`, the root included: path -> directory.
std::map<std::string, bool> tree_of(const std::string& root) {
  std::map<std::string, bool> out{{root, true}};
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    out[entry.path().string()] = entry.is_directory() && !entry.is_symlink();
  }
  return out;
}

}  // namespace

TEST_CASE("inotify: a first start killed mid-walk is finished by the next start, nothing reported") {
  // One connection: the deliveries arrive in the order they were submitted.
  RunningAgent r(rules_template("connections = 1\n", "", "backend = \"inotify\"\n"),
                 /*start_now=*/false);
  // Large enough for several batches (4,096 objects each), so that a kill can fall between the
  // first stored batch and the last.
  constexpr int kDirs = 200;
  for (int d = 0; d < kDirs; ++d) {
    const std::string dir = r.in + "/d" + std::to_string(d);
    std::filesystem::create_directory(dir);
    for (int e = 0; e < kDirs; ++e) std::filesystem::create_directory(dir + "/e" + std::to_string(e));
    write_file(dir + "/f", "x");
  }
  const std::string db = r.dir / "state/outbox.db";

  r.agent = std::make_unique<AgentProcess>(
      std::vector<std::string>{"run", "--config", r.dir / "rules.toml"}, r.dir / "agent.log");
  // Killed as soon as some of the index is stored, while the walk goes on.
  REQUIRE(wait_until([&] { return count_rows(db) > 0; }, 60s));
  CHECK(r.agent->stop(SIGKILL) == 128 + SIGKILL);
  const Stored partial = read_stored(db);
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(partial.indexed.empty());  // the folder is marked indexed only with its last batch
  REQUIRE(partial.rows.size() < tree_of(r.in).size());
  CHECK(r.agent->output().find("\"msg\":\"watching\"") == std::string::npos);

  // While nothing runs: some objects with stored rows go, one appears.
  int removed = 0;
  for (const auto& [path, directory] : partial.rows) {
    const std::string rel = path.substr(r.in.size());  // "/d3/e7"
    if (!directory || rel.find("/e") == std::string::npos || removed == 50) continue;
    std::filesystem::remove(path);
    ++removed;
  }
  REQUIRE(removed == 50);
  write_file(r.in + "/new", "n");

  r.agent = std::make_unique<AgentProcess>(
      std::vector<std::string>{"run", "--config", r.dir / "rules.toml"}, r.dir / "agent.log");
  INFO("agent log, second start:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"msg\":\"watching\"", 120s));
  // A live operation after the catch-up: once it arrives, everything the catch-up submitted
  // before it has arrived too.
  write_file(r.in + "/sentinel", "s");
  const Webhook first = r.nth(1);
  CHECK(first.param("action") == "create");
  CHECK(first.param("path") == r.in + "/sentinel");  // no destroy, no create before it
  CHECK(r.receiver.count() == 1);

  // The stored index is the tree, exactly: the rows of the removed directories are gone.
  const Stored after = read_stored(db);
  CHECK(after.indexed == std::set<std::string>{r.in});
  const std::map<std::string, bool> tree = tree_of(r.in);
  CHECK(after.rows.size() == tree.size());
  CHECK(after.rows == tree);
  CHECK(r.agent->stop(SIGTERM) == 0);
}
