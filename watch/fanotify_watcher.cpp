// The fanotify backend: one FAN_MARK_FILESYSTEM per filesystem holding a root, events read
// through uv_poll_t, dropped early when they are the agent's own or lie outside every root,
// resolved to paths and actors, and fed to an ActionBuilder in whole-filesystem scope.
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

#include "watch/action_builder.h"
#include "watch/catch_up_runner.h"
#include "watch/fanotify_file_system.h"
#include "watch/fanotify_record.h"
#include "watch/fanotify_setup.h"
#include "watch/process_info.h"
#include "watch/engine_shell.h"
#include "watch/engine_watcher.h"
#include "watch/watcher.h"

namespace folderhook::watch {
namespace {

constexpr uint64_t kBaseMask =
    FAN_CREATE | FAN_DELETE | FAN_OPEN | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_ONDIR;
constexpr uint64_t kDirentMask = kFanotifyDirentMask;

// The fanotify engine: the shell (watch/engine_shell.h) around the group descriptor, the
// builder in whole-filesystem scope, the catch-up runner, and what turns events into paths
// and actors.
class FanotifyEngine : public EngineShell<FanotifyEngine> {
 public:
  FanotifyEngine(uv_loop_t* loop, int fd, bool has_rename, WatchOptions options,
         CatchUpOptions catch_up, ActionSink sink, Logger logger)
      : EngineShell(loop, fd, "fanotify", options.read_gap, std::move(sink), std::move(logger)),
        has_rename_(has_rename),
        actors_(options.interfaces, [this](uid_t uid) { return fs_.user_name(uid); }),
        builder_(options, fs_, logger_, ActionBuilder::Scope::kWholeFilesystem),
        runner_(loop, builder_, logger_, std::move(catch_up), options.ignore_paths,
                runner_hooks()),
        self_(::getpid()) {
    for (const RootOptions& root : options.roots) roots_.push_back(root.path);
    attributes_ = any_permissions(options.roots);
    // A walk on the loop (a tree moved in, the background index) lists what no read of the
    // queue is behind: once polling, its sift keeps the records for read_all(). Before, the
    // start scan's worker is the descriptor's only reader.
    fs_.set_sift([this] {
      if (polling_) sift_start_queue();
    });
  }

  bool start(std::string& error) {
    if (!mark_filesystems(error)) return false;  // before any handle: close() deletes at once
    if (!open_handles(error)) return false;
    builder_.start(now_stamp());
    if (runner_.enabled()) {
      // The marks are live: what happens from here queues in the kernel. The scan of what
      // changed while nothing watched runs on a worker, and reading starts once it is out.
      return runner_.start(CatchUpRunner::StartKind::kReadOnly, error);
    }
    if (!start_polling(error)) return false;
    deliver();
    return true;
  }

  CatchUpOptions give_back_catch_up() { return runner_.give_back(); }

  WatchStats stats() const {
    WatchStats stats = builder_.stats();
    stats.marks = marked_.size();
    stats.rescans = runner_.rescans();
    stats.actors_gone = actors_gone_;
    stats.reads = reads_;
    return stats;
  }

 private:
  friend class EngineShell<FanotifyEngine>;

  // What the start scan's sift kept came before anything still queued: each kept read is
  // handled now as the read it was part of would have been, had it been made now.
  void before_polling() { feed_held(); }

  // Handling what was kept may walk and sift again.
  void feed_held() {
    for (auto held = held_.take(); !held.empty(); held = held_.take()) {
      for (const std::string& bytes : held) handle_read(bytes);
    }
  }

  // Worker, during the read-only start scan: the descriptor's only reader (polling starts at
  // go_live, once the scan is out); then the loop, inside a walk of the builder. Takes the
  // queue's records off before our own listings (a directory's FAN_OPEN and FAN_CLOSE_NOWRITE,
  // two per directory) can overflow it, and keeps the rest (HeldFanotifyEvents), as many as
  // the kernel's queue holds at most.
  void sift_start_queue() {
    alignas(fanotify_event_metadata) char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EAGAIN: drained
      held_.add_read(std::string_view(buffer, static_cast<std::size_t>(n)));
    }
  }

  bool prepare_roots(const std::vector<RootOptions>& roots, std::string& error) {
    const std::vector<std::string> before = roots_;
    roots_.clear();
    for (const RootOptions& root : roots) roots_.push_back(root.path);
    // The first folder to report permissions: FAN_ATTRIB is added to the marks already placed.
    const bool remark = any_permissions(roots) && !attributes_;
    if (remark) attributes_ = true;
    if (mark_filesystems(error, remark)) return true;
    roots_ = before;
    return false;
  }

  bool mark_filesystems(std::string& error, bool remark = false) {
    const uint64_t mask = kBaseMask | (has_rename_ ? FAN_RENAME : FAN_MOVED_FROM | FAN_MOVED_TO) |
                          (attributes_ ? FAN_ATTRIB : 0);
    for (const std::string& root : roots_) {
      const std::string place = existing_ancestor(root);
      struct statfs st {};
      if (::statfs(place.c_str(), &st) != 0) {
        error = "cannot statfs " + place + ": " + std::strerror(errno);
        return false;
      }
      const std::string fsid(reinterpret_cast<const char*>(&st.f_fsid), sizeof st.f_fsid);
      if (std::find(marked_.begin(), marked_.end(), fsid) != marked_.end()) {
        // FAN_MARK_ADD of a marked filesystem adds to its mask.
        if (remark && fanotify_mark(fd_, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD,
                                    place.c_str()) != 0) {
          error = mark_error(errno, place);
          return false;
        }
        continue;
      }
      if (fanotify_mark(fd_, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, place.c_str()) !=
          0) {
        error = mark_error(errno, place);
        return false;
      }
      const int dir = ::open(place.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir < 0) {
        error = "cannot open " + place + ": " + std::strerror(errno);
        return false;
      }
      fs_.add_mount(fsid, dir);
      marked_.push_back(fsid);
    }
    return true;
  }

  void read_all() {
    read_queue([this](std::string_view bytes) { handle_read(bytes); });
  }

  // The records of one read().
  void handle_read(std::string_view bytes) {
    // `at` is when we read the operation from the kernel: one stamp per read().
    const Timestamp now = now_stamp();
    actors_.new_batch();
    for (const FanotifyEvent& event : decode_fanotify_events(bytes)) handle(event, now);
    fs_.forget_expected();
  }

  void handle(const FanotifyEvent& event, Timestamp now) {
    if (event.mask & FAN_Q_OVERFLOW) {
      Record overflow;
      overflow.kinds = {RecordKind::kOverflow};
      builder_.feed(overflow, now);
      return;
    }
    // Cheap drops first: the agent's own I/O (its hashing reads), directory listings. The
    // start scan's sift drops the same (HeldFanotifyEvents) before they are read here.
    if (event.pid == self_) return;
    if ((event.mask & FAN_ONDIR) && !(event.mask & (kDirentMask | FAN_ATTRIB))) return;
    uint32_t cookie = 0;
    if (!has_rename_) cookie = legacy_cookie(event);
    if (event.mask & FAN_RENAME) {
      handle_rename(event, now);
      return;
    }
    const FanotifyFid* where = find(event, FAN_EVENT_INFO_TYPE_DFID_NAME);
    if (where != nullptr && where->name == "." && (event.mask & FAN_ATTRIB)) {
      handle_directory_attrib(event, where->key, now);
      return;
    }
    if (where == nullptr || where->name == "." || where->name.empty()) return;
    const auto dir = dir_path(where->key);
    if (!dir || !watched(*dir, where->name)) return;
    const RecordKinds kinds = fanotify_kinds_of(event.mask);
    const bool is_dir = (event.mask & FAN_ONDIR) != 0;
    if (is_dir && (kinds.has(RecordKind::kCreated) || kinds.has(RecordKind::kMovedTo))) {
      expect_child(event, *dir, where->name);
    }
    feed(*dir, where->name, kinds, is_dir, cookie, event.pid, now);
  }

  // The kernel reports a directory's own attribute change on the directory ("." in it), not by
  // its parent and name as for a file: the builder wants the latter.
  void handle_directory_attrib(const FanotifyEvent& event, const std::string& key, Timestamp now) {
    const auto self = dir_path(key);
    if (!self || *self == "/") return;
    const auto slash = self->rfind('/');
    const std::string parent = slash == 0 ? "/" : self->substr(0, slash);
    const std::string name = self->substr(slash + 1);
    if (!watched(parent, name)) return;
    feed(parent, name, {RecordKind::kAttrib}, true, 0, event.pid, now);
  }

  // A rename is one event with both names: a move inside, a move out, or a move in.
  void handle_rename(const FanotifyEvent& event, Timestamp now) {
    const bool is_dir = (event.mask & FAN_ONDIR) != 0;
    // A renamed directory changes the path of everything outside beneath it too.
    if (is_dir) fs_.clear_outside();
    const FanotifyFid* from = find(event, FAN_EVENT_INFO_TYPE_OLD_DFID_NAME);
    const FanotifyFid* to = find(event, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME);
    std::optional<std::string> from_dir, to_dir;
    if (from) from_dir = dir_path(from->key);
    if (to) to_dir = dir_path(to->key);
    const bool from_in = from_dir && watched(*from_dir, from->name);
    const bool to_in = to_dir && watched(*to_dir, to->name);
    if (!from_in && !to_in) return;
    const uint32_t cookie = ++cookie_;
    if (from_in) {
      feed(*from_dir, from->name, {RecordKind::kMovedFrom}, is_dir, cookie, event.pid, now);
    }
    if (to_in) {
      if (is_dir) expect_child(event, *to_dir, to->name);
      feed(*to_dir, to->name, {RecordKind::kMovedTo}, is_dir, cookie, event.pid, now);
    }
  }

  // Before 5.17 a rename is FAN_MOVED_FROM then FAN_MOVED_TO, without a cookie; the two come
  // from the same process, back to back. Counted before the path filter so that a half that
  // lies outside still consumes its pair.
  uint32_t legacy_cookie(const FanotifyEvent& event) {
    if (event.mask & FAN_MOVED_FROM) {
      if (legacy_from_.size() > 1024) legacy_from_.clear();
      return legacy_from_[event.pid] = ++cookie_;
    }
    if (event.mask & FAN_MOVED_TO) {
      auto it = legacy_from_.find(event.pid);
      if (it == legacy_from_.end()) return ++cookie_;
      const uint32_t cookie = it->second;
      legacy_from_.erase(it);
      return cookie;
    }
    return 0;
  }

  void expect_child(const FanotifyEvent& event, const std::string& dir, const std::string& name) {
    if (const FanotifyFid* child = find(event, FAN_EVENT_INFO_TYPE_FID)) {
      fs_.expect(dir == "/" ? "/" + name : dir + "/" + name, child->key);
    }
  }

  // The edge: one Record in the builder's words, with the actor behind `pid`.
  void feed(const std::string& dir, const std::string& name, RecordKinds kinds, bool is_dir,
            uint32_t cookie, int pid, Timestamp now) {
    bool gone = false;
    Actor actor = actors_.resolve(pid, gone);
    if (gone) {
      // The info line waits until the event is reported (ActionBuilder::emit).
      ++actors_gone_;
      logger_("debug", "the process behind an event was gone before it could be looked up",
              {{"pid", pid}, {"path", dir + "/" + name}});
    }
    builder_.feed(Record{.kinds = kinds,
                         .is_dir = is_dir,
                         .dir = dir,
                         .name = name,
                         .cookie = cookie,
                         .actor = std::move(actor)},
                  now);
  }

  static const FanotifyFid* find(const FanotifyEvent& event, uint8_t type) {
    for (const FanotifyFid& fid : event.fids) {
      if (fid.type == type) return &fid;
    }
    return nullptr;
  }

  std::optional<std::string> dir_path(const std::string& key) {
    if (const auto wd = fs_.wd_of_key(key)) {
      if (auto path = builder_.table().path_of(*wd)) return path;
    }
    if (auto path = fs_.outside_path(key)) return path;
    auto path = fs_.resolve(key);
    if (!path) {
      ++unresolved_;
      return std::nullopt;
    }
    if (!inside_roots(*path)) fs_.remember_outside(key, *path);
    return path;
  }

  bool inside_roots(const std::string& dir) const {
    return std::any_of(roots_.begin(), roots_.end(),
                       [&](const std::string& root) { return path_is_within(dir, root); });
  }

  // Inside a root, or a root itself (created, deleted or moved in its parent).
  bool watched(const std::string& dir, const std::string& name) const {
    if (inside_roots(dir)) return true;
    return std::any_of(roots_.begin(), roots_.end(), [&](const std::string& root) {
      const auto slash = root.rfind('/');
      return slash != std::string::npos && root.compare(slash + 1, std::string::npos, name) == 0 &&
             (slash == 0 ? dir == "/" : root.compare(0, slash, dir) == 0 && dir.size() == slash);
    });
  }

  bool has_rename_;
  bool attributes_ = false;  // the marks ask for FAN_ATTRIB: some folder reports permissions
  FanotifyFileSystem fs_;
  ActorResolver actors_;
  ActionBuilder builder_;
  CatchUpRunner runner_;
  const int self_;
  std::vector<std::string> roots_;
  std::vector<std::string> marked_;  // fsids
  std::map<int, uint32_t> legacy_from_;
  uint32_t cookie_ = 0;
  uint64_t unresolved_ = 0;
  uint64_t actors_gone_ = 0;  // lookups that found the process gone (WatchStats::actors_gone)
  // The sift's: the start scan worker's until go_live, then the loop's.
  HeldFanotifyEvents held_{self_, max_queued_events()};
};

using FanotifyWatcher = EngineWatcher<FanotifyEngine>;

}  // namespace

std::unique_ptr<Watcher> start_fanotify_watcher(uv_loop_t* loop, WatchOptions& options,
                                                ActionSink sink, Logger logger,
                                                std::string& error) {
  constexpr unsigned kBase = FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID |
                             FAN_CLOEXEC | FAN_NONBLOCK;
  bool has_rename = !options.fanotify_without_rename;
  int fd = has_rename ? fanotify_init(kBase | FAN_REPORT_TARGET_FID, O_RDONLY | O_LARGEFILE) : -1;
  if (fd < 0 && (!has_rename || errno == EINVAL)) {
    // Before 5.17: no target fid, no FAN_RENAME; moves come as MOVED_FROM/MOVED_TO.
    has_rename = false;
    fd = fanotify_init(kBase, O_RDONLY | O_LARGEFILE);
    if (fd < 0) {
      error = init_error(errno, true);
      return nullptr;
    }
  } else if (fd < 0) {
    error = init_error(errno, false);
    return nullptr;
  }
  if (!logger) logger = [](std::string_view, std::string_view, const nlohmann::json&) {};
  CatchUpOptions catch_up = std::move(options.catch_up);
  auto* engine = new FanotifyEngine(loop, fd, has_rename, options, std::move(catch_up), std::move(sink),
                            std::move(logger));
  // A failed start hands the catch-up back, so that the caller can try inotify with it.
  const auto failed = [&] {
    options.catch_up = engine->give_back_catch_up();
    engine->close(nullptr);  // deletes itself from the close callbacks
  };
  try {
    if (!engine->start(error)) {
      failed();
      return nullptr;
    }
  } catch (const std::exception& e) {
    error = std::string("cannot start watching: ") + e.what();
    failed();
    return nullptr;
  }
  return std::make_unique<FanotifyWatcher>(engine);
}

}  // namespace folderhook::watch
