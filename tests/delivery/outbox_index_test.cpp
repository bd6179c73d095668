// The index of the watched trees in the outbox: changes applied in order, in the transaction
// of the batch, subtrees moved and erased without touching look-alike siblings.
#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <utility>

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

std::unique_ptr<Dispatcher> open_in(const TempDir& dir) {
  DispatcherOptions options;
  options.state_dir = dir.path();
  std::string error;
  auto d = open_dispatcher(options, nullptr, error);
  REQUIRE_MESSAGE(d, error);
  return d;
}

// Puts /r/f1 .. /r/f2000 (inode i) in one submission: a commit that takes the writer a while.
void submit_2000_puts(Dispatcher& d) {
  std::vector<IndexChange> many;
  for (uint64_t i = 1; i <= 2000; ++i) many.push_back(put("/r/f" + std::to_string(i), i));
  d.submit({}, std::move(many));
}

}  // namespace

TEST_CASE("index: puts, subtree moves and erases apply in order, siblings untouched") {
  TempDir dir;
  std::string error;
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  REQUIRE(commit_index_changes(*outbox, {put("/r", 1, true), put("/r/a", 2, true),
                                         put("/r/a/x", 3), put("/r/a-b", 4), put("/r/a0", 5),
                                         put("/r/z", 6)}));
  // /r/z is replaced by the moved subtree.
  REQUIRE(commit_index_changes(*outbox, {move("/r/a", "/r/z"), put("/r/z", 2, true)}));
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/a-b#4", "/r/a0#5", "/r/z#2",
                                                   "/r/z/x#3"});
  REQUIRE(commit_index_changes(*outbox, {erase("/r/z")}));
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/a-b#4", "/r/a0#5"});
  IndexSnapshot snapshot;
  REQUIRE(outbox->load_index(snapshot, error));
  CHECK(snapshot.rows[1].size == 40);
  CHECK(snapshot.rows[1].mtime_ns == -4);
}

TEST_CASE("index: an erase and a put of one path (a file where a directory was) leave the new row and nothing beneath") {
  TempDir dir;
  std::string error;
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  REQUIRE(commit_index_changes(*outbox, {put("/r", 1, true), put("/r/a", 2, true),
                                         put("/r/a/x", 3), put("/r/a/y/z", 4), put("/r/a-b", 5),
                                         put("/r/a0", 6), put("/r/c", 7)}));
  // The directory /r/a becomes a file; /r/c is put again as it was, in the same commit.
  REQUIRE(commit_index_changes(*outbox, {erase("/r/a"), put("/r/a", 8), erase("/r/c"),
                                         put("/r/c", 9)}));
  CHECK(paths(*outbox) ==
        std::vector<std::string>{"/r#1", "/r/a#8", "/r/a-b#5", "/r/a0#6", "/r/c#9"});
  // An erase followed by a put of another path erases its own path as well.
  REQUIRE(commit_index_changes(*outbox, {erase("/r/a"), put("/r/a-b", 10)}));
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/a-b#10", "/r/a0#6", "/r/c#9"});
}

TEST_CASE("index: a relisted directory forgets its ctime, and nothing else of it or its siblings") {
  TempDir dir;
  std::string error;
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  IndexChange a = put("/r/a", 2, true);
  a.row.ctime_ns = 77;
  IndexChange b = put("/r/a-b", 3, true);
  b.row.ctime_ns = 88;
  IndexChange relist;
  relist.kind = IndexChange::Kind::kRelist;
  relist.row.path = "/r/a";
  REQUIRE(commit_index_changes(*outbox, {a, b, relist}));
  IndexSnapshot snapshot;
  REQUIRE(outbox->load_index(snapshot, error));
  REQUIRE(snapshot.rows.size() == 2);
  CHECK(snapshot.rows[0].path == "/r/a");
  CHECK(snapshot.rows[0].ctime_ns == 0);
  CHECK(snapshot.rows[0].ino == 2);
  CHECK(snapshot.rows[1].ctime_ns == 88);
}

TEST_CASE("index: a read of the index comes after the commit of everything submitted before it") {
  TempDir dir;
  auto d = open_in(dir);
  submit_2000_puts(*d);
  d->submit({}, {erase("/r/f7")});
  std::promise<std::pair<IndexSnapshot, std::string>> answered;
  d->read_index([&](IndexSnapshot&& snapshot, std::string&& why) {
    answered.set_value({std::move(snapshot), std::move(why)});
  });
  d->submit({}, {put("/r/later", 9)});  // after the read: not in it
  auto [snapshot, why] = answered.get_future().get();
  CHECK(why.empty());
  CHECK(snapshot.rows.size() == 1999);
  const auto has = [&](const std::string& path) {
    return std::any_of(snapshot.rows.begin(), snapshot.rows.end(),
                       [&](const IndexRow& row) { return row.path == path; });
  };
  CHECK(has("/r/f2000"));
  CHECK_FALSE(has("/r/f7"));
  CHECK_FALSE(has("/r/later"));
  d->shutdown();
}

TEST_CASE("index: after_commit answers once everything submitted before it is committed") {
  TempDir dir;
  auto d = open_in(dir);
  submit_2000_puts(*d);
  std::promise<std::pair<bool, size_t>> answered;
  d->after_commit([&](bool committed) {
    // On the writer thread, right after that commit: what another connection reads now.
    std::string error;
    auto reader = Outbox::open(dir.path(), error);
    answered.set_value({committed, reader ? paths(*reader).size() : 0});
  });
  d->submit({}, {put("/r/later", 9)});  // after it: committed later
  const auto [committed, rows] = answered.get_future().get();
  CHECK(committed);
  CHECK(rows == 2000);
  d->shutdown();
  bool late = true;
  d->after_commit([&](bool c) { late = c; });  // after shutdown: answered at once, false
  CHECK_FALSE(late);
}

TEST_CASE("index: a read asked after shutdown says why instead of hanging") {
  TempDir dir;
  auto d = open_in(dir);
  d->shutdown();
  std::string why;
  bool answered = false;
  d->read_index([&](IndexSnapshot&&, std::string&& e) {
    answered = true;
    why = std::move(e);
  });
  CHECK(answered);
  CHECK_FALSE(why.empty());
}

TEST_CASE("index: indexed roots are remembered, and the dispatcher hands them over once") {
  TempDir dir;
  {
    std::string error;
    auto outbox = Outbox::open(dir.path(), error);
    REQUIRE_MESSAGE(outbox, error);
    IndexChange root;
    root.kind = IndexChange::Kind::kRootIndexed;
    root.row.path = "/r";
    REQUIRE(commit_index_changes(*outbox, {put("/r", 1, true), root, root}));
  }
  DispatcherOptions options;
  options.state_dir = dir.path();
  std::string error;
  auto d = open_dispatcher(options, nullptr, error);
  REQUIRE_MESSAGE(d, error);
  const IndexSnapshot first = d->take_index();
  CHECK(first.rows.empty());  // read_index() reads them when a scan needs them
  CHECK(first.indexed_roots == std::vector<std::string>{"/r"});
  CHECK(d->take_index().indexed_roots.empty());
  // Submitted changes are committed by the writer, with or without requests.
  d->submit({}, {put("/r/n", 7)});
  d->shutdown();
  auto outbox = Outbox::open(dir.path(), error);
  REQUIRE_MESSAGE(outbox, error);
  CHECK(paths(*outbox) == std::vector<std::string>{"/r#1", "/r/n#7"});
}
