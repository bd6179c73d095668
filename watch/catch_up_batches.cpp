// CatchUpRunner: a first start's index, handed from the walk's worker to the loop a batch at a
// time (catch_up_runner.h).
#include "watch/catch_up_runner.h"

namespace folderhook::watch {

// Worker: a full batch of a first start's walk. Waits for the batch before it to be stored, so
// that the walk never runs more than one batch ahead of the store.
void CatchUpRunner::hand_over(Job& job, ScanLog&& batch) {
  Handoff& handoff = *job.handoff;
  std::unique_lock lock(handoff.mu);
  handoff.cv.wait(lock, [&] { return !handoff.unstored || handoff.cancelled; });
  if (handoff.cancelled) return;
  job.handed += batch.size();
  handoff.ready = std::move(batch);
  handoff.has_ready = true;
  handoff.unstored = true;
  uv_async_send(&batch_ready_);
}

void CatchUpRunner::wait_stored(Handoff& handoff) {
  std::unique_lock lock(handoff.mu);
  handoff.cv.wait(lock, [&] { return !handoff.unstored || handoff.cancelled; });
}

// Loop: a batch the worker handed over goes to the store, in order with everything else.
void CatchUpRunner::on_batch(uv_async_t* handle) {
  auto* self = static_cast<CatchUpRunner*>(handle->data);
  Job* job = self->job_;
  if (job == nullptr || !job->handoff || self->closing_) return;
  const std::shared_ptr<Handoff> handoff = job->handoff;
  IndexUpdate update;
  {
    std::lock_guard lock(handoff->mu);
    if (!handoff->has_ready) return;
    update.recorded = std::move(handoff->ready);
    handoff->ready = ScanLog();
    handoff->has_ready = false;
  }
  if (!job->reset_sent) {
    update.reset_roots = job->roots;
    job->reset_sent = true;
  }
  self->guard([&] {
    if (self->options_.on_index) self->options_.on_index(std::move(update));
  });
  auto stored = [handoff] {
    std::lock_guard lock(handoff->mu);
    handoff->unstored = false;
    handoff->cv.notify_all();
  };
  bool asked = false;
  self->guard([&] {
    if (self->options_.after_index) {
      self->options_.after_index(stored);
      asked = true;
    }
  });
  if (!asked) stored();  // nothing to wait for: the walk goes on
}

}  // namespace folderhook::watch
