// The read of the stored index for a scan: answered on delivery's writer thread, waited for on
// the scan's worker. And what a scan's update becomes in the store.
#include <doctest/doctest.h>

#include <thread>

#include "agent/index_read.h"
#include "agent/index_sync.h"

namespace folderhook::agent {
namespace {

delivery::IndexRow row(const std::string& path, uint64_t ino, bool directory = false) {
  delivery::IndexRow r;
  r.path = path;
  r.ino = ino;
  r.directory = directory;
  r.ctime_ns = 5;
  return r;
}

}  // namespace

TEST_CASE("index read: the scan's reader waits for the answer and gets the rows as an index") {
  IndexReadHandoff handoff = make_index_read();
  std::thread writer([answer = std::move(handoff.answer)] {
    delivery::IndexSnapshot snapshot;
    snapshot.rows = {row("/r", 1, true), row("/r/a", 2)};
    answer(std::move(snapshot), "");
  });
  std::string error;
  const std::optional<watch::Index> index = handoff.reader(error);
  writer.join();
  REQUIRE(index.has_value());
  CHECK(error.empty());
  REQUIRE(index->size() == 2);
  CHECK(index->at("/r").type == watch::ObjectType::kDirectory);
  CHECK(index->at("/r/a").meta.ino == 2);
  CHECK(index->at("/r/a").meta.ctime_ns == 5);
}

TEST_CASE("index read: an answer with an error is no index, and says why") {
  IndexReadHandoff handoff = make_index_read();
  handoff.answer({}, "the outbox cannot commit");
  std::string error;
  CHECK_FALSE(handoff.reader(error).has_value());
  CHECK(error == "the outbox cannot commit");
}

TEST_CASE("index sync: what a first walk recorded is put, path and metadata, after the entries") {
  watch::IndexUpdate update;
  update.entries.push_back({"/r/x", watch::IndexEntry{watch::ObjectType::kFile, {}}});
  update.recorded.add("/r", watch::IndexEntry{watch::ObjectType::kDirectory, {1, 10, 0, 0, 0, 0}});
  update.recorded.add("/r/a", watch::IndexEntry{watch::ObjectType::kFile, {1, 11, 3, 0, 0, 0}});
  const std::vector<delivery::IndexChange> changes = index_changes(std::move(update));
  REQUIRE(changes.size() == 3);
  CHECK(changes[1].kind == delivery::IndexChange::Kind::kPut);
  CHECK(changes[1].row.path == "/r");
  CHECK(changes[1].row.directory);
  CHECK(changes[2].row.path == "/r/a");
  CHECK(changes[2].row.ino == 11);
  CHECK(changes[2].row.size == 3);
}

TEST_CASE("index sync: directories to relist follow the entries of a scan's update") {
  watch::IndexUpdate update;
  update.entries.push_back({"/r/d", watch::IndexEntry{watch::ObjectType::kDirectory, {}}});
  update.indexed_roots.push_back("/r");
  update.relist.push_back("/r/d");
  const std::vector<delivery::IndexChange> changes = index_changes(std::move(update));
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].kind == delivery::IndexChange::Kind::kPut);
  CHECK(changes[1].kind == delivery::IndexChange::Kind::kRootIndexed);
  CHECK(changes[2].kind == delivery::IndexChange::Kind::kRelist);
  CHECK(changes[2].row.path == "/r/d");
}

}  // namespace folderhook::agent
