#include "agent/index_read.h"

#include <condition_variable>
#include <memory>
#include <mutex>

#include "agent/index_sync.h"

namespace folderhook::agent {
namespace {

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool answered = false;
  delivery::IndexSnapshot snapshot;
  std::string error;
};

}  // namespace

IndexReadHandoff make_index_read() {
  auto shared = std::make_shared<Shared>();
  IndexReadHandoff handoff;
  handoff.answer = [shared](delivery::IndexSnapshot&& snapshot, std::string&& error) {
    std::lock_guard lock(shared->mu);
    shared->snapshot = std::move(snapshot);
    shared->error = std::move(error);
    shared->answered = true;
    shared->cv.notify_all();
  };
  handoff.reader = [shared](std::string& error) -> std::optional<watch::Index> {
    std::unique_lock lock(shared->mu);
    shared->cv.wait(lock, [&] { return shared->answered; });
    if (!shared->error.empty()) {
      error = std::move(shared->error);
      return std::nullopt;
    }
    // The rows' paths move into the index: the two are never both whole.
    return to_watch_index(std::exchange(shared->snapshot.rows, {}));
  };
  return handoff;
}

}  // namespace folderhook::agent
