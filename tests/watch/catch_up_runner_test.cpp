// CatchUpRunner on a real libuv loop and worker pool, over the fake file system.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"
#include "tests/watch/fake_file_system.h"
#include "watch/action_builder.h"
#include "watch/catch_up_runner.h"

namespace folderhook::watch::testing {
namespace {

// Listing fails: a scan that throws half-way.
class FailingFileSystem : public FakeFileSystem {
 public:
  bool fail = false;
  std::vector<std::string> list(const std::string& dir) override {
    if (fail) throw std::runtime_error("listing failed");
    return FakeFileSystem::list(dir);
  }
};

struct Run {
  std::vector<IndexUpdate> updates;
  std::vector<std::string> messages;
  std::vector<FileAction> actions;  // what the catch-up reported
  bool ready = false;
  bool live = false;
  int reads = 0;  // the stored index was read, on a thread other than the loop's
  size_t unstored = 0;       // updates handed to on_index and not yet said to be stored
  size_t most_unstored = 0;  // the most at once
};

// How the fake store of start_catch_up answers: with `batch`, the start walk's batches; with
// `store_later`, after_index says "stored" only on a later turn of the loop, one per turn.
// `root` and `kind`: the folder, and a read-only start scan (which walks the real file system).
struct Store {
  size_t batch = 8192;
  bool store_later = false;
  std::string root = "/r";
  CatchUpRunner::StartKind kind = CatchUpRunner::StartKind::kBuilderWalk;
};

// Runs the start catch-up (the builder's walk on a worker) until on_ready, then closes. With
// `stored`, the index as the store holds it for folders `indexed` (nullopt: it cannot be read).
Run start_catch_up(FailingFileSystem& fs, const std::optional<Index>* stored = nullptr,
                   std::set<std::string> indexed = {}, Store store = {}) {
  Run run;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  const Logger logger = [&](std::string_view, std::string_view msg, const nlohmann::json& f) {
    run.messages.push_back(std::string(msg) + " " + f.dump());
  };
  WatchOptions options;
  options.roots.push_back({store.root, {}});
  ActionBuilder builder(options, fs, logger);
  CatchUpOptions catch_up;
  catch_up.enabled = true;
  catch_up.on_index = [&](IndexUpdate&& update) {
    run.updates.push_back(std::move(update));
    run.most_unstored = std::max(run.most_unstored, ++run.unstored);
  };
  catch_up.index_batch = store.batch;
  std::deque<std::function<void()>> to_store;
  uv_check_t storing;
  uv_check_init(&loop, &storing);
  storing.data = &to_store;
  if (store.store_later) {
    catch_up.after_index = [&](std::function<void()> done) {
      to_store.push_back([&run, done] {
        run.unstored = 0;  // everything before the call is stored
        done();
      });
    };
    uv_check_start(&storing, [](uv_check_t* h) {
      auto& queue = *static_cast<std::deque<std::function<void()>>*>(h->data);
      if (queue.empty()) return;
      queue.front()();
      queue.pop_front();
    });
  }
  catch_up.on_ready = [&] { run.ready = true; };
  catch_up.indexed_roots = std::move(indexed);
  const std::thread::id loop_thread = std::this_thread::get_id();
  if (stored != nullptr) {
    catch_up.read_index = [&] {
      return [&](std::string& error) -> std::optional<Index> {
        if (std::this_thread::get_id() != loop_thread) ++run.reads;
        if (!stored->has_value()) error = "the store cannot be read";
        return *stored;
      };
    };
  }
  int holds = 0;
  CatchUpRunner runner(&loop, builder, logger, std::move(catch_up), {},
                       {[&] { ++holds; }, [&] { --holds; }, [] {},
                        [&](std::string&) { return run.live = true; }, [] {}});
  runner.init();
  std::string error;
  REQUIRE(runner.start(store.kind, error));
  // Bounds each UV_RUN_ONCE of the wait: if ready never comes, it ends at its deadline.
  uv_timer_t wake;
  uv_timer_init(&loop, &wake);
  uv_timer_start(&wake, [](uv_timer_t*) {}, 5, 5);
  folderhook::test::wait_until([&] { return run.ready; }, std::chrono::seconds(10),
                               [&] { uv_run(&loop, UV_RUN_ONCE); });
  run.actions = builder.take_actions();
  runner.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&storing), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(holds == 0);
  CHECK(uv_loop_close(&loop) == 0);
  return run;
}

}  // namespace

TEST_CASE("catch-up runner: a start scan names its folders indexed, then goes live") {
  FailingFileSystem fs;
  fs.mkdir("/r");
  fs.write("/r/a", "a");
  const Run run = start_catch_up(fs);
  CHECK(run.ready);
  CHECK(run.live);
  REQUIRE(run.updates.size() == 1);
  CHECK(run.updates[0].indexed_roots == std::vector<std::string>{"/r"});
  CHECK(run.updates[0].recorded.size() == 2);  // /r and /r/a, recorded as the walk found them
}

TEST_CASE("catch-up runner: a start scan that fails indexes nothing, says why, and goes live") {
  FailingFileSystem fs;
  fs.mkdir("/r");
  fs.write("/r/a", "a");
  fs.fail = true;
  const Run run = start_catch_up(fs);
  CHECK(run.ready);
  CHECK(run.live);
  REQUIRE(run.updates.size() == 1);
  CHECK(run.updates[0].indexed_roots.empty());  // the next start is a first start again
  bool said = false;
  for (const std::string& m : run.messages) said = said || m.find("listing failed") != std::string::npos;
  CHECK(said);
}

TEST_CASE("catch-up runner: the start scan diffs against the stored index, read on the worker") {
  FailingFileSystem fs;
  fs.mkdir("/r");
  fs.write("/r/a", "a");
  // What the store says was there: /r/gone is no longer.
  Index index;
  index["/r"] = IndexEntry{ObjectType::kDirectory,
                          meta_of(*fs.stat("/r"), std::chrono::system_clock::now())};
  index["/r/gone"] = IndexEntry{ObjectType::kFile, {1, 999, 3, 0, 0, 0}};
  const std::optional<Index> stored = index;
  const Run run = start_catch_up(fs, &stored, {"/r"});
  CHECK(run.ready);
  CHECK(run.reads == 1);
  bool destroyed = false;
  bool created = false;
  for (const FileAction& a : run.actions) {
    destroyed = destroyed || (a.action == Action::kDestroy && a.path == "/r/gone");
    created = created || (a.action == Action::kCreate && a.path == "/r/a");
  }
  CHECK(destroyed);
  CHECK(created);
}

TEST_CASE("catch-up runner: a stored index that cannot be read still watches, indexes nothing") {
  FailingFileSystem fs;
  fs.mkdir("/r");
  fs.write("/r/a", "a");
  const std::optional<Index> stored;
  const Run run = start_catch_up(fs, &stored, {"/r"});
  CHECK(run.ready);
  CHECK(run.live);
  CHECK(run.actions.empty());  // nothing to diff against: nothing reported, nothing lost
  REQUIRE(run.updates.size() == 1);
  CHECK(run.updates[0].indexed_roots.empty());
  CHECK(run.updates[0].entries.empty());
  CHECK(run.updates[0].recorded.size() == 0);
  bool said = false;
  for (const std::string& m : run.messages) {
    said = said || m.find("the store cannot be read") != std::string::npos;
  }
  CHECK(said);
}

TEST_CASE("catch-up runner: a first start records its walk in bounded batches, one ahead of the store") {
  FailingFileSystem fs;
  fs.mkdir("/r");
  for (int d = 0; d < 10; ++d) {
    const std::string dir = "/r/d" + std::to_string(d);
    fs.mkdir(dir);
    for (int f = 0; f < 10; ++f) fs.write(dir + "/f" + std::to_string(f), "x");
  }
  const std::optional<Index> stored = Index{};
  const Run run = start_catch_up(fs, &stored, {}, Store{16, true});
  REQUIRE(run.ready);
  // 111 objects: six full batches while the walk runs, the rest with the folder indexed.
  REQUIRE(run.updates.size() == 7);
  size_t recorded = 0;
  for (size_t i = 0; i < run.updates.size(); ++i) {
    const IndexUpdate& u = run.updates[i];
    CHECK(u.recorded.size() <= 16);
    recorded += u.recorded.size();
    // The folder is indexed only with its last batch; its stored rows are dropped before the first.
    CHECK(u.indexed_roots == (i + 1 == run.updates.size() ? std::vector<std::string>{"/r"}
                                                          : std::vector<std::string>{}));
    CHECK(u.reset_roots == (i == 0 ? std::vector<std::string>{"/r"} : std::vector<std::string>{}));
  }
  CHECK(recorded == 111);
  // The walk waited for each batch to be stored before it handed over the next.
  CHECK(run.most_unstored == 1);
  CHECK(run.actions.empty());
}

TEST_CASE("catch-up runner: rows stored for a folder never indexed are dropped, nothing reported") {
  FailingFileSystem fs;
  fs.mkdir("/r");
  fs.write("/r/a", "a");
  // A first start killed mid-walk stored /r/gone (no longer there) but never indexed /r.
  Index partial;
  partial["/r/gone"] = IndexEntry{ObjectType::kFile, {1, 999, 3, 0, 0, 0}};
  const std::optional<Index> stored = partial;
  const Run run = start_catch_up(fs, &stored, {}, Store{4, true});
  REQUIRE(run.ready);
  CHECK(run.actions.empty());  // neither /r/gone destroyed nor /r/a created
  REQUIRE(!run.updates.empty());
  CHECK(run.updates.front().reset_roots == std::vector<std::string>{"/r"});
  CHECK(run.updates.back().indexed_roots == std::vector<std::string>{"/r"});
}

TEST_CASE("catch-up runner: a read-only first start (fanotify) records its scan in bounded batches") {
  const folderhook::test::TempDir folder;
  const std::filesystem::path root = folder.path();
  for (int d = 0; d < 10; ++d) {
    const auto dir = root / ("d" + std::to_string(d));
    std::filesystem::create_directory(dir);
    for (int f = 0; f < 10; ++f) std::ofstream(dir / ("f" + std::to_string(f))) << "x";
  }
  FailingFileSystem fs;  // the builder's: the read-only scan lists the real folder
  const std::optional<Index> stored = Index{};
  const Run run =
      start_catch_up(fs, &stored, {}, Store{16, true, root, CatchUpRunner::StartKind::kReadOnly});
  REQUIRE(run.ready);
  REQUIRE(run.updates.size() == 7);  // 111 objects: six full batches, then the rest
  size_t recorded = 0;
  for (const IndexUpdate& u : run.updates) {
    CHECK(u.recorded.size() <= 16);
    CHECK(u.entries.empty());
    recorded += u.recorded.size();
  }
  CHECK(recorded == 111);
  CHECK(run.updates.front().reset_roots == std::vector<std::string>{root.string()});
  CHECK(run.updates.back().indexed_roots == std::vector<std::string>{root.string()});
  CHECK(run.most_unstored == 1);
  CHECK(run.actions.empty());
}

}  // namespace folderhook::watch::testing
