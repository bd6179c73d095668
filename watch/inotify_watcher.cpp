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
#include "watch/engine_shell.h"
#include "watch/engine_watcher.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

// The inotify engine: the shell (watch/engine_shell.h) around the inotify descriptor, the
// builder in per-directory scope and the catch-up runner.
class InotifyEngine : public EngineShell<InotifyEngine> {
 public:
  InotifyEngine(uv_loop_t* loop, int fd, WatchOptions options, CatchUpOptions catch_up,
         ActionSink sink, Logger logger)
      : EngineShell(loop, fd, "inotify", options.read_gap, std::move(sink), std::move(logger)),
        fs_(fd, any_permissions(options.roots)),  // IN_ATTRIB only when a folder asks
        ignore_(options.ignore_paths),
        builder_(std::move(options), fs_, logger_, ActionBuilder::Scope::kPerDirectory, &fs_),
        runner_(loop, builder_, logger_, std::move(catch_up), ignore_, runner_hooks()) {}

  bool start(std::string& error) {
    if (!open_handles(error)) return false;
    if (runner_.enabled()) {
      // The walk and its diff run on a worker; reading starts when the catch-up is out.
      return runner_.start(CatchUpRunner::StartKind::kBuilderWalk, error);
    }
    builder_.start(now_stamp());
    if (!start_polling(error)) return false;
    deliver();
    return true;
  }

  // While the start walk runs on a worker the builder is the worker's: report what was known.
  WatchStats stats() const {
    if (const WatchStats* walking = runner_.stats_while_walking()) return *walking;
    WatchStats stats = builder_.stats();
    stats.rescans = runner_.rescans();
    stats.reads = reads_;
    return stats;
  }

 private:
  friend class EngineShell<InotifyEngine>;

  // The records the start walk took off the queue (RealFileSystem::sift_queue) came before
  // anything still queued.
  void before_polling() { feed_held(); }

  bool prepare_roots(const std::vector<RootOptions>& roots, std::string&) {
    if (any_permissions(roots) && !fs_.attributes()) {
      // The first folder to report permissions: an inotify_add_watch of a watched directory
      // replaces its mask, so every watch now asks for IN_ATTRIB too (the same wds come back).
      fs_.set_attributes(true);
      const WatchTable& table = builder_.table();
      for (const int wd : table.watches_within("/")) {
        if (const auto dir = table.path_of(wd)) fs_.add_watch(*dir);
      }
    }
    return true;
  }
  // The builder's own walk sifts at start (RealFileSystem::sift_queue): no read-only start scan.
  void sift_start_queue() {}

  void read_all() {
    read_queue([this](std::string_view bytes) {
      // `at` is when we read the operation from the kernel: one stamp per read().
      const Timestamp now = now_stamp();
      for (const RawRecord& record : decode_inotify_records(bytes)) {
        builder_.feed(fs_.translate(record), now);
      }
    });
  }

  // A walk on the loop (a tree moved in, a folder appeared or added) sifts the queue as it
  // goes: what it kept was queued after the records already read, before anything still
  // queued. Feeding it may walk and sift again.
  void feed_held() {
    for (auto held = fs_.take_held(); !held.empty(); held = fs_.take_held()) {
      const Timestamp now = now_stamp();
      for (const RawRecord& record : held) builder_.feed(fs_.translate(record), now);
    }
  }

  RealFileSystem fs_;
  std::vector<std::string> ignore_;
  ActionBuilder builder_;
  CatchUpRunner runner_;
};

using InotifyWatcher = EngineWatcher<InotifyEngine>;

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
  auto* engine = new InotifyEngine(loop, fd, std::move(options), std::move(catch_up), std::move(sink),
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
