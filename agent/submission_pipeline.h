// The submission pipeline: hands the Agent's batches (requests, index changes, index reads,
// after-commit callbacks) to the dispatcher in the order they were pushed, even when a batch
// must first attach files (file_field uploads) off the loop: that batch, and every batch pushed
// behind it, waits until the upload work is back. Batches without uploads pass straight through.
//
// Threads: every member is called on the loop's thread. The upload work (AttachUploads) runs
// off it, touching only the batch in flight and what the function itself captures. Nothing here
// blocks: the work runner (OffLoop) queues the work and returns.
//
// Ownership: the pipeline owns its target, the queued batches and the batch in flight. It must
// outlive the work in flight (the Agent's loop runs until the work's callback has run, stop or
// not); a stop does nothing to it: what was pushed still reaches the target, in order.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/upload.h"
#include "delivery/dispatcher.h"
#include "watch/file_action.h"

namespace folderhook::agent {

// A file to attach to requests[request] (attach_file, upload.h), read off the loop.
struct PendingUpload {
  size_t request;
  watch::FileAction action;
  FormFields fields;
  std::string field;
  uint64_t max_bytes;
  std::string folder;  // read beneath it: the outermost watched folder holding the file
};

struct SubmissionBatch {
  std::vector<delivery::Request> requests;
  std::vector<PendingUpload> uploads;
  // What the operations do to the index: committed with their requests.
  std::vector<delivery::IndexChange> index_changes;
  // A read of the stored index for a scan, after everything before (and this batch's submit).
  delivery::Dispatcher::IndexRead read_index;
  // Told when everything before it (and this batch's submit) is committed.
  delivery::Dispatcher::Committed after_commit;
};

// What the pipeline hands batches to: the dispatcher's calls, on the loop's thread, in order.
class SubmissionTarget {
 public:
  virtual ~SubmissionTarget() = default;
  virtual void submit(std::vector<delivery::Request>&& requests,
                      std::vector<delivery::IndexChange>&& index_changes) = 0;
  virtual void read_index(delivery::Dispatcher::IndexRead done) = 0;
  virtual void after_commit(delivery::Dispatcher::Committed done) = 0;
};

// The Agent's target: its dispatcher, which must outlive the pipeline.
class DispatcherTarget final : public SubmissionTarget {
 public:
  explicit DispatcherTarget(delivery::Dispatcher& dispatcher) : dispatcher_(dispatcher) {}
  void submit(std::vector<delivery::Request>&& requests,
              std::vector<delivery::IndexChange>&& index_changes) override {
    dispatcher_.submit(std::move(requests), std::move(index_changes));
  }
  void read_index(delivery::Dispatcher::IndexRead done) override {
    dispatcher_.read_index(std::move(done));
  }
  void after_commit(delivery::Dispatcher::Committed done) override {
    dispatcher_.after_commit(std::move(done));
  }

 private:
  delivery::Dispatcher& dispatcher_;
};

class SubmissionPipeline {
 public:
  // Runs `work` off the loop's thread, then `done` on the loop's thread. Called with at most
  // one work in flight. `done` may also be called before it returns (a runner without threads).
  using OffLoop = std::function<void(std::function<void()> work, std::function<void()> done)>;
  // Attaches the batch's uploads to its requests; runs inside OffLoop's `work`.
  using AttachUploads = std::function<void(SubmissionBatch& batch)>;

  SubmissionPipeline(std::unique_ptr<SubmissionTarget> target, OffLoop off_loop,
                     AttachUploads attach);
  SubmissionPipeline(const SubmissionPipeline&) = delete;
  SubmissionPipeline& operator=(const SubmissionPipeline&) = delete;

  // Queues the batch behind the others and hands the target whatever no upload holds back.
  // An empty batch (nothing to submit, read or call) is dropped where it would be handed over.
  void push(SubmissionBatch&& batch);

  // Batches waiting behind the upload work in flight, and whether it is in flight.
  size_t waiting() const { return queue_.size(); }
  bool uploading() const { return in_flight_ != nullptr; }

 private:
  void pump();
  // The batch's calls to the target: submit (when it has something to submit), then the
  // index read, then the after-commit callback.
  void hand_over(SubmissionBatch& batch);
  void uploaded();

  std::unique_ptr<SubmissionTarget> target_;
  OffLoop off_loop_;
  AttachUploads attach_;
  std::deque<SubmissionBatch> queue_;
  std::unique_ptr<SubmissionBatch> in_flight_;  // its uploads are being attached off the loop
  bool pumping_ = false;                        // pump() is on the stack: it sees new batches
};

// The Agent's OffLoop: libuv's thread pool (uv_queue_work) on `loop`, whose run it keeps alive
// until `done` has run.
SubmissionPipeline::OffLoop thread_pool_of(uv_loop_t* loop);

}  // namespace folderhook::agent
