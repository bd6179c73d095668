// The index of the watched trees in the outbox: changes applied in order, in the transaction
// of the batch, subtrees moved and erased without touching look-alike siblings.
#include <doctest/doctest.h>

#include "delivery/dispatcher.h"
#include "delivery/outbox.h"
#include "tests/delivery/harness.h"

using namespace folderhook::delivery;
using namespace folderhook::delivery::test;

namespace {

IndexChange put(const std::string& path, uint64_t ino, bool directory = false) {
  IndexChange c;
  c.row.path = path;
  c.row.ino = ino;
  c.row.directory = directory;
  c.row.size = ino * 10;
  c.row.mtime_ns = -static_cast<int64_t>(ino);
  return c;
}

IndexChange erase(const std::string& path) {
  IndexChange c;
  c.kind = IndexChange::Kind::kErase;
  c.row.path = path;
  return c;
}

IndexChange move(const std::string& from, const std::string& to) {
  IndexChange c;
  c.kind = IndexChange::Kind::kMove;
  c.row.path = from;
  c.destination = to;
  return c;
}

std::vector<std::string> paths(Outbox& outbox) {
  IndexSnapshot snapshot;
  std::string error;
  REQUIRE(outbox.load_index(snapshot, error));
  std::vector<std::string> out;
  for (const IndexRow& row : snapshot.rows) out.push_back(row.path + "#" + std::to_string(row.ino));
  return out;
}

bool commit(Outbox& outbox, std::vector<IndexChange> changes) {
  Batch batch;
  batch.index_changes = std::move(changes);
  std::vector<int64_t> seqs;
  std::string error;
  bool full = false;
  return outbox.commit(batch, seqs, error, full);
}

}  // namespace

TEST_CASE("index: puts, subtree moves and erases apply in order, siblings untouched") {
  TempDir dir;
  std::string error;
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  REQUIRE(commit(*outbox, {put("/r", 1, true), put("/r/a", 2, true), put("/r/a/x", 3),
                           put("/r/a-b", 4), put("/r/a0", 5), put("/r/z", 6)}));
  // /r/z is replaced by the moved subtree.
  REQUIRE(commit(*outbox, {move("/r/a", "/r/z"), put("/r/z", 2, true)}));
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/a-b#4", "/r/a0#5", "/r/z#2",
                                                   "/r/z/x#3"});
  REQUIRE(commit(*outbox, {erase("/r/z")}));
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/a-b#4", "/r/a0#5"});
  IndexSnapshot snapshot;
  REQUIRE(outbox->load_index(snapshot, error));
  CHECK(snapshot.rows[1].size == 40);
  CHECK(snapshot.rows[1].mtime_ns == -4);
}

TEST_CASE("index: indexed roots are remembered, and the dispatcher hands the index over once") {
  TempDir dir;
  {
    std::string error;
    auto outbox = Outbox::open(dir.path(), error);
    REQUIRE_MESSAGE(outbox, error);
    IndexChange root;
    root.kind = IndexChange::Kind::kRootIndexed;
    root.row.path = "/r";
    REQUIRE(commit(*outbox, {put("/r", 1, true), root, root}));
  }
  DispatcherOptions options;
  options.state_dir = dir.path();
  std::string error;
  auto d = open_dispatcher(options, nullptr, error);
  REQUIRE_MESSAGE(d, error);
  const IndexSnapshot first = d->take_index();
  CHECK(first.rows.size() == 1);
  CHECK(first.indexed_roots == std::vector<std::string>{"/r"});
  CHECK(d->take_index().rows.empty());
  // Submitted changes are committed by the writer, with or without requests.
  d->submit({}, {put("/r/n", 7)});
  d->shutdown();
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/n#7"});
}
