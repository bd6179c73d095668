// EngineShell: the libuv shell both backends' engines share around their kernel descriptor.
// One uv_poll_t reads the descriptor, at most twice per read gap while records keep coming
// (another uv_timer_t ends the gap), one uv_timer_t wakes the builder at its next deadline
// (a uv_idle_t when that deadline has already come, so that the loop polls between two ticks),
// and the engine frees itself when the last thing holding it lets go (a handle's close
// callback, the catch-up runner's timer, a scan in flight), so it outlives the Watcher that
// fronts it when that is destroyed before the loop runs the closes.
//
// Derived (CRTP) has the members `builder_` (ActionBuilder) and `runner_` (CatchUpRunner), and
//   void read_all();                      // reads the descriptor until EAGAIN (read_queue)
//   void feed_held();                     // feeds builder_ what a walk's sift kept
//   void before_polling();                // the moment before live reading starts
//   void sift_start_queue();              // CatchUpRunner::Hooks::sift (worker)
//   bool prepare_roots(const std::vector<RootOptions>&, std::string& error);  // set_roots
// and makes EngineShell<Derived> a friend (they may be private); self() checks all of it at
// compile time. Loop thread only; nothing throws out of a callback.
#pragma once

#include <uv.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "watch/action_builder.h"
#include "watch/catch_up_runner.h"
#include "watch/watcher.h"

namespace folderhook::watch {

inline Timestamp now_stamp() {
  return Timestamp{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

template <typename Derived>
class EngineShell {
 public:
  EngineShell(const EngineShell&) = delete;
  EngineShell& operator=(const EngineShell&) = delete;

  // Safe to call more than once; `done` runs once the engine has let go of everything.
  void close(std::function<void()> done) {
    if (done) done_ = std::move(done);
    if (closing_) return;
    closing_ = true;
    if (holds_ == 0) {  // nothing was opened (a start that failed first): free at once
      holds_ = 1;
      release();
      return;
    }
    self().runner_.close();
    if (poll_open_) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&gap_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&due_), on_closed);
  }

  // Watcher::set_roots: what was read before is named under the old folder list.
  bool set_roots(std::vector<RootOptions> roots, std::string& error) {
    if (closing_ || self().runner_.starting()) {
      error = closing_ ? "the watcher is closing" : "the start catch-up is still running";
      return false;
    }
    self().read_all();
    deliver();
    if (!self().prepare_roots(roots, error)) return false;
    std::vector<std::string> added = self().builder_.set_roots(std::move(roots), now_stamp());
    self().read_all();  // what the walk of an added folder took off the queue, and the rest
    deliver();
    self().runner_.scan_added(std::move(added));
    return true;
  }

 protected:
  // `kernel` names the descriptor in error messages ("inotify", "fanotify").
  EngineShell(uv_loop_t* loop, int fd, const char* kernel, std::chrono::milliseconds read_gap,
              ActionSink sink, Logger logger)
      : loop_(loop),
        fd_(fd),
        kernel_(kernel),
        sink_(std::move(sink)),
        logger_(std::move(logger)),
        read_gap_(read_gap) {
    poll_.data = this;
    timer_.data = this;
    gap_.data = this;
    due_.data = this;
  }
  ~EngineShell() = default;

  // What the catch-up runner needs from the engine.
  CatchUpRunner::Hooks runner_hooks() {
    return {[this] { ++holds_; }, [this] { release(); },
            [this] {
              self().read_all();
              deliver();
            },
            [this](std::string& error) { return start_polling(error); },
            [this] { self().sift_start_queue(); }};
  }

  // The timer, the runner's timer and the poll handle; false with `error` when the descriptor
  // cannot be polled.
  bool open_handles(std::string& error) {
    uv_timer_init(loop_, &timer_);
    ++holds_;
    uv_timer_init(loop_, &gap_);
    ++holds_;
    uv_idle_init(loop_, &due_);
    ++holds_;
    self().runner_.init();
    const int rc = uv_poll_init(loop_, &poll_, fd_);
    if (rc != 0) {
      error = "cannot poll the " + std::string(kernel_) + " descriptor: " + uv_strerror(rc);
      return false;
    }
    ++holds_;
    poll_open_ = true;
    return true;
  }

  bool start_polling(std::string& error) {
    if (closing_) return true;
    self().before_polling();
    if (!poll(error)) return false;
    polling_ = true;
    return true;
  }

  // (Re)starts the poll handle: at start, and at the end of each read gap.
  bool poll(std::string& error) {
    const int rc = uv_poll_start(&poll_, UV_READABLE, on_readable);
    if (rc != 0) {
      error = "cannot poll the " + std::string(kernel_) + " descriptor: " + uv_strerror(rc);
      return false;
    }
    return true;
  }

  // Hands the builder's finished actions to the sink (which stores what they do to the index);
  // asks for a rescan if an overflow record was among what was read (every read of the
  // descriptor ends here, wherever it was made: one read where no one asked would leave the
  // lost records unnamed until the next read); re-arms the timer.
  void deliver() {
    if (closing_) return;
    std::vector<FileAction> actions = self().builder_.take_actions();
    if (!actions.empty() && sink_) sink_(std::move(actions));
    if (closing_) return;  // the sink may close us
    if (polling_) self().runner_.check_overflow();
    const auto next = self().builder_.next_deadline();
    if (!next) {
      uv_timer_stop(&timer_);
      uv_idle_stop(&due_);
      return;
    }
    const auto ms =
        std::chrono::ceil<std::chrono::milliseconds>(*next - std::chrono::steady_clock::now())
            .count();
    if (ms > 0) {
      uv_idle_stop(&due_);
      uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(ms), 0);
    } else {
      // Due now (the background index goes on at once): not a timer at 0 ms, which libuv
      // before 1.48 runs again before it polls, so that a large index would hold the loop until
      // it is built (README, "How it works"). An idle handle runs once per loop iteration, and
      // the poll between two does not block.
      uv_timer_stop(&timer_);
      uv_idle_start(&due_, on_due);
    }
  }

  // Reads the descriptor until it is drained, handing the bytes of each read() to
  // `handle_read`. What a walk kept (Derived::feed_held) is fed before the first read and after
  // each one: it came after the records of that read. Once drained and everything read is
  // fed, what an overflow record hid ends here (ActionBuilder::queue_drained).
  template <typename F>
  void read_queue(F&& handle_read) {
    if (closing_) return;
    self().feed_held();
    alignas(std::max_align_t) char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) self().builder_.queue_drained(now_stamp());
        return;
      }
      handle_read(std::string_view(buffer, static_cast<std::size_t>(n)));
      self().feed_held();
    }
  }

  template <typename F>
  void guard(F&& body) {
    // Nothing may throw through a libuv callback.
    try {
      body();
    } catch (const std::exception& e) {
      if (logger_) logger_("error", "watcher callback failed", {{"error", e.what()}});
    } catch (...) {
      if (logger_) logger_("error", "watcher callback failed", {{"error", "unknown exception"}});
    }
  }

  uv_loop_t* loop_;
  int fd_;
  const char* kernel_;
  ActionSink sink_;
  Logger logger_;
  uv_poll_t poll_{};
  uv_timer_t timer_{};
  uv_timer_t gap_{};  // ends a read gap: the poll is stopped meanwhile
  uv_idle_t due_{};
  bool closing_ = false;
  bool polling_ = false;  // live reading has started
  uint64_t reads_ = 0;    // WatchStats::reads

 private:
  Derived& self() {
    // The contract above, checked where Derived is complete and its privates are ours to see.
    static_assert(std::is_base_of_v<EngineShell<Derived>, Derived>,
                  "EngineShell<Derived>: Derived must derive from it (CRTP)");
    static_assert(
        requires(Derived& d, const std::vector<RootOptions>& roots, std::string& error) {
          { d.builder_ } -> std::same_as<ActionBuilder&>;
          { d.runner_ } -> std::same_as<CatchUpRunner&>;
          { d.read_all() } -> std::same_as<void>;
          { d.feed_held() } -> std::same_as<void>;
          { d.before_polling() } -> std::same_as<void>;
          { d.sift_start_queue() } -> std::same_as<void>;
          { d.prepare_roots(roots, error) } -> std::same_as<bool>;
        },
        "EngineShell<Derived>: Derived lacks a member of the contract at the top of engine_shell.h");
    return *static_cast<Derived*>(this);
  }

  static void on_readable(uv_poll_t* handle, int status, int) {
    auto* shell = static_cast<EngineShell*>(handle->data);
    shell->guard([&] {
      if (status < 0) {
        shell->logger_("error", std::string(shell->kernel_) + " poll failed",
                       {{"error", uv_strerror(status)}});
        return;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now - shell->gap_start_ >= shell->read_gap_) {
        shell->gap_start_ = now;
        shell->reads_in_gap_ = 0;
      } else if (shell->reads_in_gap_ >= kReadsPerGap) {
        // More records within the gap: they wait in the kernel's queue for the rest of it, and
        // the poll with them (it would report them readable on every iteration).
        uv_poll_stop(&shell->poll_);
        const auto rest = std::chrono::ceil<std::chrono::milliseconds>(
            shell->gap_start_ + shell->read_gap_ - now);
        uv_timer_start(&shell->gap_, on_gap_end, static_cast<uint64_t>(rest.count()), 0);
        return;
      }
      ++shell->reads_in_gap_;
      shell->read_now();
    });
  }

  static void on_gap_end(uv_timer_t* handle) {
    auto* shell = static_cast<EngineShell*>(handle->data);
    shell->guard([&] {
      if (shell->closing_) return;
      std::string error;
      if (!shell->poll(error)) {
        shell->logger_("error", std::string(shell->kernel_) + " poll failed", {{"error", error}});
      }
      // A burst goes on: this read opens a gap in which any more records wait again.
      shell->gap_start_ = std::chrono::steady_clock::now();
      shell->reads_in_gap_ = kReadsPerGap;
      shell->read_now();
    });
  }

  void read_now() {
    ++reads_;
    self().read_all();
    deliver();
  }

  static void on_timer(uv_timer_t* handle) { static_cast<EngineShell*>(handle->data)->tick(); }

  static void on_due(uv_idle_t* handle) {
    uv_idle_stop(handle);
    static_cast<EngineShell*>(handle->data)->tick();
  }

  void tick() {
    guard([&] {
      self().builder_.tick(now_stamp());
      if (polling_) {
        // A tick may list directories (the background index: ActionBuilder::kIndexBatch):
        // read after it, or our own listings pile up in the kernel queue until it overflows.
        self().read_all();
      }
      deliver();
    });
  }

  static void on_closed(uv_handle_t* handle) {
    static_cast<EngineShell*>(handle->data)->release();
  }

  // The last one to let go deletes the engine.
  void release() {
    if (--holds_ > 0) return;
    ::close(fd_);
    auto done = std::move(done_);
    delete &self();
    if (done) done();
  }

  // A burst the agent keeps up with would otherwise be read a few records per wake-up, and a
  // wake-up of the loop (epoll, the read that finds the queue empty, handing the actions on)
  // cost about 18 µs against 12 µs for naming a create. After a quiet moment the first
  // kReadsPerGap reads within the read gap (WatchOptions::read_gap, 1 ms) are made at once (one
  // operation's records, a create's and its close's, often come in two); records that come
  // after them wait in the kernel's queue for the rest of the gap (libuv's timers count whole
  // milliseconds: 1 to 2 ms), and while they keep coming, one read per gap.
  static constexpr int kReadsPerGap = 2;
  const std::chrono::milliseconds read_gap_;
  std::chrono::steady_clock::time_point gap_start_{};
  int reads_in_gap_ = 0;
  int holds_ = 0;
  bool poll_open_ = false;
  std::function<void()> done_;
};

}  // namespace folderhook::watch
