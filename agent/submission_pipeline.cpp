// The submission pipeline (submission_pipeline.h): order kept across the upload work.
#include "agent/submission_pipeline.h"

#include <utility>

namespace folderhook::agent {

SubmissionPipeline::SubmissionPipeline(std::unique_ptr<SubmissionTarget> target, OffLoop off_loop,
                                       AttachUploads attach)
    : target_(std::move(target)), off_loop_(std::move(off_loop)), attach_(std::move(attach)) {}

void SubmissionPipeline::push(SubmissionBatch&& batch) {
  queue_.push_back(std::move(batch));
  pump();
}

// One pump at a time: a runner that calls `done` at once, or a target that pushes, re-enters
// here; the outer loop then takes the batches in order instead of a nested one jumping ahead.
void SubmissionPipeline::pump() {
  if (pumping_) return;
  pumping_ = true;
  while (!queue_.empty() && !in_flight_) {
    SubmissionBatch batch = std::move(queue_.front());
    queue_.pop_front();
    if (batch.uploads.empty()) {
      hand_over(batch);
      continue;
    }
    in_flight_ = std::make_unique<SubmissionBatch>(std::move(batch));
    SubmissionBatch* job = in_flight_.get();
    off_loop_([this, job] { attach_(*job); }, [this] { uploaded(); });
  }
  pumping_ = false;
}

void SubmissionPipeline::hand_over(SubmissionBatch& batch) {
  if (!batch.requests.empty() || !batch.index_changes.empty()) {
    target_->submit(std::move(batch.requests), std::move(batch.index_changes));
  }
  if (batch.read_index) target_->read_index(std::move(batch.read_index));
  if (batch.after_commit) target_->after_commit(std::move(batch.after_commit));
}

void SubmissionPipeline::uploaded() {
  std::unique_ptr<SubmissionBatch> batch = std::move(in_flight_);
  hand_over(*batch);
  pump();
}

namespace {

struct ThreadPoolJob {
  uv_work_t work{};
  std::function<void()> run;
  std::function<void()> done;
};

}  // namespace

SubmissionPipeline::OffLoop thread_pool_of(uv_loop_t* loop) {
  return [loop](std::function<void()> work, std::function<void()> done) {
    // Owned by libuv from here until its after-callback, which frees it.
    auto* job = new ThreadPoolJob{{}, std::move(work), std::move(done)};
    job->work.data = job;
    uv_queue_work(
        loop, &job->work, [](uv_work_t* w) { static_cast<ThreadPoolJob*>(w->data)->run(); },
        [](uv_work_t* w, int) {
          std::unique_ptr<ThreadPoolJob> job(static_cast<ThreadPoolJob*>(w->data));
          job->done();
        });
  };
}

}  // namespace folderhook::agent
