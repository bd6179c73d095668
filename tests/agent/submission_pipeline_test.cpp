// The submission pipeline: batches reach the dispatcher in the order pushed, a batch with
// uploads holding back everything behind it until its work is back. A fake dispatcher records
// the calls; a fake work runner is completed by hand (and once, libuv's thread pool for real).
#include "agent/submission_pipeline.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace folderhook::agent {
namespace {

// Each call as a line: "submit a,b +2" (the requests' paths and bodies, then how many index
// changes), "read_index", "after_commit".
class RecordingTarget final : public SubmissionTarget {
 public:
  explicit RecordingTarget(std::vector<std::string>& calls) : calls_(calls) {}
  void submit(std::vector<delivery::Request>&& requests,
              std::vector<delivery::IndexChange>&& index_changes) override {
    std::string line = "submit ";
    for (size_t i = 0; i < requests.size(); ++i) {
      line += (i ? "," : "") + requests[i].path + requests[i].body;
    }
    if (!index_changes.empty()) line += " +" + std::to_string(index_changes.size());
    calls_.push_back(line);
    if (on_submit) std::exchange(on_submit, nullptr)();
  }
  void read_index(delivery::Dispatcher::IndexRead) override { calls_.push_back("read_index"); }
  void after_commit(delivery::Dispatcher::Committed) override { calls_.push_back("after_commit"); }
  std::function<void()> on_submit;  // once, after the next submit is recorded

 private:
  std::vector<std::string>& calls_;
};

// The work it is given waits until the test runs it: run_next() does the work, then its done.
struct HandRunner {
  std::vector<std::pair<std::function<void()>, std::function<void()>>> queued;
  void run_next() {
    REQUIRE_FALSE(queued.empty());
    auto [work, done] = std::move(queued.front());
    queued.erase(queued.begin());
    work();
    done();
  }
};

struct PipelineFixture {
  std::vector<std::string> calls;
  HandRunner runner;
  SubmissionPipeline pipeline{
      std::make_unique<RecordingTarget>(calls),
      [this](std::function<void()> work, std::function<void()> done) {
        runner.queued.emplace_back(std::move(work), std::move(done));
      },
      // Attaching sets the request's body to ":" and the upload's field (recorded as "u:file").
      [](SubmissionBatch& batch) {
        for (const PendingUpload& u : batch.uploads) {
          batch.requests[u.request].body = ":" + u.field;
        }
      }};
};

delivery::Request pipeline_request(const std::string& path) {
  delivery::Request r;
  r.path = path;
  return r;
}

SubmissionBatch plain_batch(const std::string& path) {
  SubmissionBatch batch;
  batch.requests.push_back(pipeline_request(path));
  return batch;
}

SubmissionBatch upload_batch(const std::string& path) {
  SubmissionBatch batch = plain_batch(path);
  batch.uploads.push_back({0, {}, {}, "file", 1024, "/w"});
  return batch;
}

SubmissionBatch index_read_batch() {
  SubmissionBatch batch;
  batch.read_index = [](delivery::IndexSnapshot&&, std::string&&) {};
  return batch;
}

SubmissionBatch after_commit_batch() {
  SubmissionBatch batch;
  batch.after_commit = [](bool) {};
  return batch;
}

void push_all(SubmissionPipeline& pipeline, std::vector<SubmissionBatch> batches) {
  for (SubmissionBatch& batch : batches) pipeline.push(std::move(batch));
}

TEST_CASE("plain batches reach the dispatcher at once, in the order pushed") {
  PipelineFixture f;
  f.pipeline.push(plain_batch("a"));
  SubmissionBatch changes;
  changes.index_changes.resize(2);
  f.pipeline.push(std::move(changes));
  f.pipeline.push(plain_batch("b"));
  CHECK(f.calls == std::vector<std::string>{"submit a", "submit  +2", "submit b"});
  CHECK(f.runner.queued.empty());
  CHECK(f.pipeline.waiting() == 0);
}

TEST_CASE("a batch with uploads holds every batch behind it until its work is back") {
  PipelineFixture f;
  push_all(f.pipeline, {plain_batch("a"), upload_batch("u"), plain_batch("b"), plain_batch("c")});
  CHECK(f.calls == std::vector<std::string>{"submit a"});
  CHECK(f.pipeline.uploading());
  CHECK(f.pipeline.waiting() == 2);
  REQUIRE(f.runner.queued.size() == 1);
  f.runner.run_next();
  // The upload's request carries what the work attached; the batches behind follow in order.
  CHECK(f.calls == std::vector<std::string>{"submit a", "submit u:file", "submit b", "submit c"});
  CHECK_FALSE(f.pipeline.uploading());
  CHECK(f.pipeline.waiting() == 0);
}

TEST_CASE("upload batches in a row: one work at a time, each submitted in its turn") {
  PipelineFixture f;
  push_all(f.pipeline,
           {upload_batch("u1"), plain_batch("b"), upload_batch("u2"), plain_batch("c")});
  REQUIRE(f.runner.queued.size() == 1);  // u2's work waits for u1's
  f.runner.run_next();
  CHECK(f.calls == std::vector<std::string>{"submit u1:file", "submit b"});
  REQUIRE(f.runner.queued.size() == 1);
  f.runner.run_next();
  CHECK(f.calls ==
        std::vector<std::string>{"submit u1:file", "submit b", "submit u2:file", "submit c"});
}

TEST_CASE("an index read and an after-commit behind an upload reach the dispatcher after it") {
  PipelineFixture f;
  push_all(f.pipeline, {upload_batch("u"), index_read_batch(), after_commit_batch()});
  CHECK(f.calls.empty());
  f.runner.run_next();
  CHECK(f.calls == std::vector<std::string>{"submit u:file", "read_index", "after_commit"});
}

TEST_CASE("an index read and an after-commit in front of an upload go at once") {
  PipelineFixture f;
  push_all(f.pipeline, {index_read_batch(), after_commit_batch(), upload_batch("u")});
  CHECK(f.calls == std::vector<std::string>{"read_index", "after_commit"});
  f.runner.run_next();
  CHECK(f.calls == std::vector<std::string>{"read_index", "after_commit", "submit u:file"});
}

TEST_CASE("an empty batch hands nothing to the dispatcher and holds nothing back") {
  PipelineFixture f;
  f.pipeline.push(SubmissionBatch{});
  CHECK(f.calls.empty());
  CHECK(f.pipeline.waiting() == 0);
  push_all(f.pipeline, {upload_batch("u"), SubmissionBatch{}, plain_batch("b")});
  f.runner.run_next();
  CHECK(f.calls == std::vector<std::string>{"submit u:file", "submit b"});
}

TEST_CASE("a runner that is done before it returns keeps the order") {
  std::vector<std::string> calls;
  SubmissionPipeline pipeline(
      std::make_unique<RecordingTarget>(calls),
      [](std::function<void()> work, std::function<void()> done) {
        work();
        done();
      },
      [](SubmissionBatch& batch) { batch.requests[0].body = ":file"; });
  push_all(pipeline, {upload_batch("u1"), upload_batch("u2"), plain_batch("b")});
  CHECK(calls == std::vector<std::string>{"submit u1:file", "submit u2:file", "submit b"});
  CHECK_FALSE(pipeline.uploading());
}

TEST_CASE("a batch pushed while one is being handed over goes after all of that one's calls") {
  std::vector<std::string> calls;
  auto target = std::make_unique<RecordingTarget>(calls);
  RecordingTarget& recording = *target;
  SubmissionPipeline pipeline(
      std::move(target), [](std::function<void()>, std::function<void()>) {},
      [](SubmissionBatch&) {});
  recording.on_submit = [&pipeline] { pipeline.push(plain_batch("x")); };
  SubmissionBatch batch = plain_batch("a");
  batch.after_commit = [](bool) {};
  pipeline.push(std::move(batch));
  CHECK(calls == std::vector<std::string>{"submit a", "after_commit", "submit x"});
}

// The Agent's stop closes its handles and leaves the pipeline alone: the loop runs until the
// upload work's callback is back, so the batch in flight and those behind it (pushed before or
// during the stop) still reach the dispatcher, in order, before the loop can close.
TEST_CASE("a stop with upload work in flight: the loop runs it out and everything is handed over") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::vector<std::string> calls;
  std::thread::id attached_on;
  {
    SubmissionPipeline pipeline(std::make_unique<RecordingTarget>(calls), thread_pool_of(&loop),
                                [&attached_on](SubmissionBatch& batch) {
                                  attached_on = std::this_thread::get_id();
                                  batch.requests[0].body = ":file";
                                });
    push_all(pipeline,
             {plain_batch("a"), upload_batch("u"), plain_batch("b"), after_commit_batch()});
    CHECK(calls == std::vector<std::string>{"submit a"});
    CHECK(pipeline.uploading());
    // Nothing else is on the loop (the stop closed every handle): the work keeps it running.
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK_FALSE(pipeline.uploading());
  }
  CHECK(calls == std::vector<std::string>{"submit a", "submit u:file", "submit b", "after_commit"});
  CHECK(attached_on != std::this_thread::get_id());  // the file was read off the loop
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace folderhook::agent
