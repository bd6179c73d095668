// EngineWatcher: the Watcher handle both backends return. The engine (libuv handles, kernel
// fd, ActionBuilder) frees itself from its last close callback, so the handle only hands it
// the close and keeps the last stats for after.
//
// Engine needs `void close(std::function<void()> done)` (nullptr allowed),
// `WatchStats stats() const` and `bool set_roots(std::vector<RootOptions>, std::string&)`.
// Loop thread only.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "watch/watcher.h"

namespace folderhook::watch {

template <typename Engine>
class EngineWatcher : public Watcher {
 public:
  explicit EngineWatcher(Engine* engine) : engine_(engine) {}
  ~EngineWatcher() override {
    if (engine_ != nullptr) engine_->close(nullptr);
  }
  EngineWatcher(const EngineWatcher&) = delete;
  EngineWatcher& operator=(const EngineWatcher&) = delete;

  void close(std::function<void()> done) override {
    if (engine_ == nullptr) {
      if (done) done();
      return;
    }
    Engine* engine = std::exchange(engine_, nullptr);
    closed_stats_ = engine->stats();
    engine->close(std::move(done));
  }
  WatchStats stats() const override { return engine_ ? engine_->stats() : closed_stats_; }
  bool set_roots(std::vector<RootOptions> roots, std::string& error) override {
    if (engine_ == nullptr) {
      error = "the watcher is closed";
      return false;
    }
    return engine_->set_roots(std::move(roots), error);
  }

 private:
  Engine* engine_;
  WatchStats closed_stats_;
};

}  // namespace folderhook::watch
