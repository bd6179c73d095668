// The libuv shell around ActionBuilder: reads the inotify descriptor through uv_poll_t (never
// uv_fs_event_t, which drops IN_Q_OVERFLOW and IN_CLOSE_WRITE), runs one uv_timer_t for every
// window the builder keeps, and leaves the catch-up scans (watch/index.h) to a CatchUpRunner.
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "watch/action_builder.h"
#include "watch/catch_up_runner.h"
#include "watch/real_file_system.h"
#include "watch/engine_watcher.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

Timestamp now_stamp() {
  return Timestamp{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

// Owns the descriptor, its handles and the catch-up runner. Deletes itself when the last
// thing holding it lets go (a handle's close callback, a scan's completion), so it outlives
// the Watcher that fronts it when that is destroyed before the loop runs the closes.
class Engine {
 public:
  Engine(uv_loop_t* loop, int fd, WatchOptions options, CatchUpOptions catch_up,
         ActionSink sink, Logger logger)
      : loop_(loop),
        fd_(fd),
        fs_(fd),
        sink_(std::move(sink)),
        logger_(std::move(logger)),
        ignore_(options.ignore_paths),
        builder_(std::move(options), fs_, logger_),
        runner_(loop, builder_, logger_, std::move(catch_up), ignore_,
                {[this] { ++holds_; }, [this] { release(); },
                 [this] {
                   read_all();
                   deliver();
                 },
                 [this](std::string& error) { return start_polling(error); }}) {
    poll_.data = this;
    timer_.data = this;
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  bool start(std::string& error) {
    uv_timer_init(loop_, &timer_);
    ++holds_;
    runner_.init();
    int rc = uv_poll_init(loop_, &poll_, fd_);
    if (rc != 0) {
      error = std::string("cannot poll the inotify descriptor: ") + uv_strerror(rc);
      return false;
    }
    ++holds_;
    poll_open_ = true;
    if (runner_.enabled()) {
      // The walk and its diff run on a worker; reading starts when the catch-up is out.
      return runner_.start(CatchUpRunner::StartKind::kBuilderWalk, error);
    }
    builder_.start(now_stamp());
    if (!start_polling(error)) return false;
    deliver();
    return true;
  }

  // Safe to call more than once; `done` runs once the engine has let go of everything.
  void close(std::function<void()> done) {
    if (done) done_ = std::move(done);
    if (closing_) return;
    closing_ = true;
    runner_.close();
    if (poll_open_) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
  }

  bool set_roots(std::vector<RootOptions> roots, std::string& error) {
    if (closing_ || runner_.starting()) {
      error = closing_ ? "the watcher is closing" : "the start catch-up is still running";
      return false;
    }
    read_all();  // what happened before is named under the old folder list
    deliver();
    std::vector<std::string> added = builder_.set_roots(std::move(roots), now_stamp());
    deliver();
    runner_.scan_added(std::move(added));
    return true;
  }

  // While the start walk runs on a worker the builder is the worker's: report what was known.
  WatchStats stats() const {
    if (const WatchStats* walking = runner_.stats_while_walking()) return *walking;
    WatchStats stats = builder_.stats();
    stats.rescans = runner_.rescans();
    return stats;
  }

 private:
  static void on_readable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<Engine*>(handle->data);
    self->guard([&] {
      if (status < 0) {
        self->logger_("error", "inotify poll failed", {{"error", uv_strerror(status)}});
        return;
      }
      self->read_all();
      self->deliver();
      self->runner_.check_overflow();
    });
  }

  static void on_timer(uv_timer_t* handle) {
    auto* self = static_cast<Engine*>(handle->data);
    self->guard([&] {
      self->builder_.tick(now_stamp());
      self->deliver();
    });
  }

  static void on_closed(uv_handle_t* handle) { static_cast<Engine*>(handle->data)->release(); }

  // The handles, the runner's timer and a scan in flight each hold the engine; the last one
  // to let go deletes it.
  void release() {
    if (--holds_ > 0) return;
    ::close(fd_);
    auto done = std::move(done_);
    delete this;
    if (done) done();
  }

  bool start_polling(std::string& error) {
    if (closing_) return true;
    // The records the start walk took off the queue (RealFileSystem::sift_queue) came before
    // anything still queued.
    const Timestamp now = now_stamp();
    for (const RawRecord& record : fs_.take_held()) builder_.feed(record, now);
    const int rc = uv_poll_start(&poll_, UV_READABLE, on_readable);
    if (rc != 0) {
      error = std::string("cannot poll the inotify descriptor: ") + uv_strerror(rc);
      return false;
    }
    return true;
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

  void read_all() {
    if (closing_) return;
    alignas(inotify_event) char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EAGAIN: drained
      // `at` is when we read the operation from the kernel: one stamp per read().
      const Timestamp now = now_stamp();
      for (const RawRecord& record :
           decode_inotify_records(std::string_view(buffer, static_cast<std::size_t>(n)))) {
        builder_.feed(record, now);
      }
    }
  }

  void deliver() {
    if (closing_) return;
    std::vector<FileAction> actions = builder_.take_actions();
    runner_.delivered(actions);
    if (!actions.empty() && sink_) sink_(std::move(actions));
    if (closing_) return;  // the sink may close us
    if (const auto next = builder_.next_deadline()) {
      const auto wait = *next - std::chrono::steady_clock::now();
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
      uv_timer_start(&timer_, on_timer, ms > 0 ? static_cast<uint64_t>(ms) : 0, 0);
    } else {
      uv_timer_stop(&timer_);
    }
  }

  uv_loop_t* loop_;
  int fd_;
  RealFileSystem fs_;
  ActionSink sink_;
  Logger logger_;
  std::vector<std::string> ignore_;
  ActionBuilder builder_;
  CatchUpRunner runner_;
  uv_poll_t poll_{};
  uv_timer_t timer_{};
  bool closing_ = false;
  int holds_ = 0;
  bool poll_open_ = false;
  std::function<void()> done_;
};

using InotifyWatcher = EngineWatcher<Engine>;

}  // namespace

std::unique_ptr<Watcher> start_inotify_watcher(uv_loop_t* loop, WatchOptions options,
                                               ActionSink sink, Logger logger,
                                               std::string& error) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    error = std::string("inotify_init1 failed: ") + std::strerror(errno);
    if (errno == EMFILE) error += " (raise fs.inotify.max_user_instances)";
    return nullptr;
  }
  if (!logger) logger = [](std::string_view, std::string_view, const nlohmann::json&) {};
  CatchUpOptions catch_up = std::move(options.catch_up);
  auto* engine = new Engine(loop, fd, std::move(options), std::move(catch_up), std::move(sink),
                            std::move(logger));
  try {
    if (!engine->start(error)) {
      engine->close(nullptr);  // deletes itself from the close callbacks
      return nullptr;
    }
  } catch (const std::exception& e) {
    error = std::string("cannot start watching: ") + e.what();
    engine->close(nullptr);
    return nullptr;
  }
  return std::make_unique<InotifyWatcher>(engine);
}

}  // namespace folderhook::watch
