// CatchUpRunner on a real libuv loop and worker pool, over the fake file system.
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>

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
  bool ready = false;
  bool live = false;
};

// Runs the start catch-up (the builder's walk on a worker) until on_ready, then closes.
Run start_catch_up(FailingFileSystem& fs) {
  Run run;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  const Logger logger = [&](std::string_view, std::string_view msg, const nlohmann::json& f) {
    run.messages.push_back(std::string(msg) + " " + f.dump());
  };
  WatchOptions options;
  options.roots.push_back({"/r", {}});
  ActionBuilder builder(options, fs, logger);
  CatchUpOptions catch_up;
  catch_up.enabled = true;
  catch_up.on_index = [&](IndexUpdate&& update) { run.updates.push_back(std::move(update)); };
  catch_up.on_ready = [&] { run.ready = true; };
  int holds = 0;
  CatchUpRunner runner(&loop, builder, logger, std::move(catch_up), {},
                       {[&] { ++holds; }, [&] { --holds; }, [] {},
                        [&](std::string&) { return run.live = true; }});
  runner.init();
  std::string error;
  REQUIRE(runner.start(CatchUpRunner::StartKind::kBuilderWalk, error));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!run.ready && std::chrono::steady_clock::now() < deadline) uv_run(&loop, UV_RUN_ONCE);
  runner.close();
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

}  // namespace folderhook::watch::testing
