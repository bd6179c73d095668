// ActionBuilder: turns raw kernel records into FileActions the way a person would name them. It
// is the coordinator of the records: each goes to the handler of its kind, which asks the parts
// that hold one idea each and emits what they decide. The parts, owned here:
//   RenamePairer  (rename_pairer.h)   a MOVED_FROM waiting for the MOVED_TO with its cookie
//   CopyInference (copy_inference.h)  which new file is the copy of which; our own reads
//   MovedInFiles  (moved_in_files.h)  the close of a file moved in, by a descriptor opened before
//   ActionOrder   (action_order.h)    actions leave in the order things happened
//   WatchTable    (watch_table.h)     the watches, and everything known to exist
//   PendingNames  (pending_names.h)   writes and reads not named yet, their deadlines; temp names,
//                                     whether a closed write is named now or waits
// Still members here: the record handlers (action_builder.cpp, moves in action_builder_moves.cpp),
// the naming of writes with its I/O (the stat, copy inference, the emit:
// action_builder_pending.cpp), renames done as link + unlink (action_builder_renames.cpp), the
// trees and roots (action_builder_tree.cpp, action_builder_roots.cpp), catch-up and permission
// changes (action_builder_catch_up.cpp, action_builder_permissions.cpp).
//
// It does no I/O of its own: every system call goes through the injected FileSystem, and time
// comes in as arguments, so tests drive it with a fake file system and a fake clock.
//
// Driving it: start() once, then feed() every record of a read() in order, then
// take_actions(); call tick() when next_deadline() passes. Single-threaded. It is fed Records
// (watch/record.h), its own vocabulary, which each backend translates its kernel's records into:
// it reads no kernel mask, and a backend knows nothing of what it does with them.
//
// Two scopes. kPerDirectory (inotify): one watch per directory, added before each directory
// is listed; records come by wd (Record::wd). kWholeFilesystem (fanotify): every event on the
// filesystem is seen, so nothing is listed to catch up with new directories; records come by
// path with their actor (Record::dir, Record::actor); "watches" are the FileSystem's handles for
// known directories; the index of what exists is built in the background by tick(), and what it
// has not reached yet is looked up when needed; the agent's own I/O never arrives (the backend
// drops its pid).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "watch/action_order.h"
#include "watch/actor.h"
#include "watch/copy_inference.h"
#include "watch/file_action.h"
#include "watch/file_system.h"
#include "watch/index.h"
#include "watch/moved_in_files.h"
#include "watch/pending_names.h"
#include "watch/permissions.h"
#include "watch/read_markers.h"
#include "watch/record.h"
#include "watch/rename_pairer.h"
#include "watch/watch_table.h"
#include "watch/watcher.h"

namespace folderhook::watch {

struct Timestamp {
  std::chrono::steady_clock::time_point mono;  // drives the windows
  std::chrono::system_clock::time_point wall;  // becomes FileAction::at
};

class ActionBuilder {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // How often a missing or deleted root is looked for again.
  static constexpr std::chrono::milliseconds kRootRecheck{500};

  enum class Scope { kPerDirectory, kWholeFilesystem };
  // Directories the background index lists per tick (kWholeFilesystem): bounds each stall
  // (the engine runs a due tick from an idle handle, so the loop polls between two).
  static constexpr std::size_t kIndexBatch = 256;
  // The start walk lets the FileSystem sift the kernel queue after this many directories.
  static constexpr std::size_t kSiftEvery = watch::kSiftEvery;
  // The owner of something never seen: FileAction::username falls back to its actor.
  static constexpr uid_t kUnknownUid = static_cast<uid_t>(-1);

  // `markers`: the backend's, when it reports our own reads (inotify); nullptr otherwise. Both
  // `fs` and `markers` outlive the builder.
  ActionBuilder(WatchOptions options, FileSystem& fs, Logger logger,
                Scope scope = Scope::kPerDirectory, ReadMarkers* markers = nullptr);
  ActionBuilder(const ActionBuilder&) = delete;
  ActionBuilder& operator=(const ActionBuilder&) = delete;

  // What start() may also do while it walks: record every object it finds with its FileMeta
  // (the scan a catch-up diffs against), count for progress lines, stop early when cancelled.
  // The builder may run start() on a worker thread while nothing else touches it.
  struct StartScan {
    ScanLog* snapshot = nullptr;
    ScanProgress* progress = nullptr;
    const std::atomic<bool>* cancel = nullptr;
  };

  // Watches every root recursively and indexes what is in it, reporting nothing. A missing
  // root is logged and looked for again on tick().
  void start(Timestamp now);
  void start(Timestamp now, StartScan scan);

  // Changes the folders while running (a reload of the rules), after start(). A top root that
  // was not watched is watched and listed as start() would (reporting nothing); what lies
  // only under a root that is gone is forgotten without a report, its watches removed; the
  // temp_patterns are the new ones from here on. Returns the new top roots: what changed in
  // them while nothing watched is for a catch-up scan to say.
  std::vector<std::string> set_roots(std::vector<RootOptions> roots, Timestamp now);
  // The roots that are walked, out of a folder list: a root nested in another is left out.
  static std::vector<std::string> top_roots_of(const std::vector<RootOptions>& roots);

  // Catch-up (watch/index.h). At start, emits the catch-up actions as they are: the walk of
  // start() is the scan they were diffed against, so the builder already knows what they name.
  // After an overflow, begin_rescan() before the scan, then apply_catch_up() with its result:
  // an action about a path that a live action named meanwhile, or that is pending here, is
  // dropped (the live one tells the newer story); the rest are emitted and the builder's own
  // view (what exists, the watches) is corrected to match. Returns the dropped actions' paths;
  // `subtree_dropped` says one lay beneath a directory that moved or vanished meanwhile, which
  // only another rescan can settle.
  void emit_catch_up(std::vector<FileAction> actions);
  void begin_rescan();
  std::vector<std::string> apply_catch_up(std::vector<FileAction> actions,
                                          const std::vector<std::string>& scanned_dirs,
                                          Timestamp now, bool& subtree_dropped);
  // Paths named by actions emitted since begin_rescan(), or pending here.
  bool touched(const std::string& path, bool& by_ancestor) const;
  // One record, in the order read. kPerDirectory reads Record::wd, kWholeFilesystem
  // Record::dir: events outside every root should not come there (the backend drops them
  // cheaply), but are ignored if they do.
  void feed(const Record& record, Timestamp now);
  // The engine read the kernel queue empty (read() said EAGAIN) after feeding what it read.
  // The kernel keeps one overflow record queued at a time: what it drops while that record
  // waits to be read is not announced again, so records read after the overflow record, up to
  // the moment the queue is next found empty, may have lost their sequels too (a writer's OPEN
  // read, its CLOSE_WRITE dropped). Those writes are settled on their size, as the ones pending
  // at the overflow record were.
  void queue_drained(Timestamp now);
  void tick(Timestamp now);
  std::optional<SteadyTime> next_deadline() const;
  // The actions finished so far, in order. Actions behind a MOVED_FROM whose pair is still
  // awaited are held back so that the order stays the order in which things happened.
  std::vector<FileAction> take_actions();
  WatchStats stats() const;
  const WatchTable& table() const { return table_; }
  // The roots that are walked: nested ones are inside another.
  const std::vector<std::string>& top_roots() const { return top_roots_; }
  // The roots with `permissions = true`: a scan records the permissions of what lies in them.
  const std::vector<std::string>& permission_roots() const { return permission_roots_; }

 private:
  using Entry = WatchTable::Known;
  // What copy inference asks of the file system and of what is known here.
  class SourceProbe;
  enum class ScanMode { kInitial, kNewDirectory, kMovedIn, kRootAppeared };

  // record handlers (action_builder.cpp; moves: action_builder_moves.cpp)
  void feed_by_watch(const Record& record, Timestamp now);  // kPerDirectory
  void feed_by_path(const Record& record, Timestamp now);   // kWholeFilesystem
  void dispatch(const std::string& path, const Record& record, Timestamp now);
  bool root_event(const std::string& path, const Record& record, Timestamp now);
  void on_file_created(const std::string& path, Timestamp now);
  void on_open(const std::string& path);
  void on_close_write(const std::string& path, Timestamp now);
  void on_close_nowrite(const std::string& path, Timestamp now);
  void on_deleted(const std::string& path, bool is_dir, Timestamp now);
  void on_moved_from(const std::string& path, bool is_dir, uint32_t cookie, Timestamp now);
  void on_moved_to(const std::string& path, bool is_dir, uint32_t cookie, Timestamp now);
  void on_self_gone(int wd, const std::string& dir, Timestamp now);

  // renames done another way (action_builder_renames.cpp)
  // The known regular file `path` was unlinked: when a name created since without an OPEN (a
  // hard link) holds its inode, reports the pair as one move and returns true.
  bool unlinked_after_link(const std::string& path, Timestamp now);
  void root_gone(const std::string& dir, Timestamp now);
  void on_overflow(Timestamp now);
  // After lost records: a pending write may never see its close, and the open counts may never
  // see theirs. Every write waiting for a close settles on its size instead (as a file found
  // by a scan), and the open counts and the files moved in (MovedIn) are forgotten.
  void assume_lost_closes(Timestamp now);

  // trees, roots and watches (action_builder_tree.cpp, action_builder_roots.cpp)
  void start_root(const std::string& root, Timestamp now);
  void forget_root(const std::string& root);
  void on_directory_created(const std::string& path, Timestamp now);
  void watch_tree(const std::string& top, ScanMode mode, Timestamp now);
  // Watches and lists one directory; pushes its subdirectories, parents first.
  void scan_directory(const std::string& dir, ScanMode mode, Timestamp now,
                      std::vector<std::string>& stack);
  // One more directory walked: progress, and every kSiftEvery the sift of the kernel queue.
  void count_directory();
  // Records the result of add_watch(dir) (a wd or -errno). Returns the node of `dir`
  // (kNoRef if it has none), or nullopt when `dir` is not to be listed (gone, cannot be
  // watched).
  std::optional<WatchTable::Ref> note_watch(const std::string& dir, int wd);
  // What a listing of the watched `dir` (its node `dir_ref`, or kNoRef) shows; its
  // subdirectories go on `stack` if given.
  void add_listing(const std::string& dir, WatchTable::Ref dir_ref,
                   const std::vector<DirEntry>& entries, ScanMode mode, Timestamp now,
                   std::vector<std::string>* stack);
  void index_step(Timestamp now);
  void forget_tree(const std::string& dir, Timestamp now, bool report, uint64_t slot,
                   const Actor& actor);
  void emit_as(Action action, const std::string& path, const std::string& destination,
               ObjectType type, uid_t uid, const FileInfo* now_info,
               std::chrono::system_clock::time_point at, const Actor& actor, uint64_t slot);
  void rebase_tree(const std::string& from, const std::string& to);
  void recheck_missing_roots(Timestamp now);
  void report_watch_failures();
  bool is_top_root(const std::string& dir) const;

  // windows, copies and output (action_builder_pending.cpp)
  // Names the moves whose pairing window ended (finish_move_out).
  void expire_moves(Timestamp now);
  void finish_move_out(PendingMove move, Timestamp now);
  void settle_write(const std::string& path, PendingWrite& write, Timestamp now);
  // tick(): the held reads whose window ended are named, unless a copy of them is awaited.
  void name_due_reads(Timestamp now);
  // The writer of `path` closed it: names it now unless something says it may still change
  // (another descriptor open on it, a temp name, gone already). True when it was named.
  // `fresh`: what the caller stat()ed of `path` right before (no record read since), so that a
  // create costs one stat, not four.
  bool name_at_close(const std::string& path, Timestamp now,
                     const std::optional<FileInfo>* fresh = nullptr);
  // `closed` was closed by a reader: the writes that waited for it are named if they can be.
  void retry_awaiting_source(const std::string& closed, Timestamp now);
  // Emits the create, copy or update of the pending write of `path` and forgets it.
  void name_write(const std::string& path, const FileInfo& info, Timestamp now);
  void flush_write_now(const std::string& path, Timestamp now);
  // The source of the new file `dest` if it is a copy (CopyInference); its read is then named
  // by the copy.
  std::optional<std::string> find_copy_source(const std::string& dest, const PendingWrite& write,
                                              const FileInfo& dest_info, Timestamp now);
  void trim_history(Timestamp now);

  // permission changes (action_builder_permissions.cpp)
  // The roots with `permissions = true`, from options_.roots; on a reload, a baseline for what
  // is already known beneath a root that just asked, and the book forgets what none asks for.
  void set_permission_roots();
  // IN_ATTRIB of `path`: reports a change of mode, owner, group or ACL since it was last seen.
  void on_attrib(const std::string& path, bool is_dir, Timestamp now);
  // Keeps the book current with an action about to be pushed (what it creates, moves, removes),
  // and puts the permissions of what it records in its meta, so that the stored index has them.
  void track_permissions(FileAction& action);
  // Names the owner (and, for a permission change, the group) of a catch-up action.
  void name_catch_up(FileAction& action);
  // Records the permissions `path` has now, when it lies in a folder that asks; returns them.
  std::optional<Permissions> note_permissions(const std::string& path);

  void emit(Action action, const std::string& path, const std::string& destination,
            ObjectType type, uid_t uid, std::chrono::system_clock::time_point at,
            const Actor& actor, uint64_t slot = 0);
  // The same, for an object the caller has just stat()ed (`now_info`: its owner and meta).
  void emit(Action action, const std::string& path, const std::string& destination,
            ObjectType type, const FileInfo& now_info, std::chrono::system_clock::time_point at,
            const Actor& actor);
  // The entry of `path`; kWholeFilesystem looks up what the index has not reached yet.
  const Entry* lookup(const std::string& path);
  uid_t owner_now(const std::string& path);
  bool whole_fs() const { return scope_ == Scope::kWholeFilesystem; }
  void push(FileAction action, uint64_t slot);
  void drop_tree(const std::string& dir);
  bool ignored(const std::string& path) const;
  uid_t owner_of(const std::string& path, const std::optional<FileInfo>& info) const;
  void log(std::string_view level, std::string_view msg, const nlohmann::json& fields) const;

  WatchOptions options_;
  FileSystem& fs_;
  ReadMarkers* markers_;  // the backend's (inotify); nullptr when it has none (fanotify, fakes)
  Logger logger_;
  Scope scope_;
  Actor actor_;  // the actor of the record being fed; empty in tick()
  std::vector<std::string> index_stack_;  // kWholeFilesystem: directories still to index
  std::vector<std::string> top_roots_;
  WatchTable table_;  // the watches, and everything known to exist (and to the receiver)
  PendingNames pending_;  // the writes and reads not named yet, with their deadlines
  RenamePairer moves_;  // MOVED_FROMs awaiting their MOVED_TO
  // OPENs not yet closed, per file: a writer may still hold a closed file (write naming), a
  // reader may be copying it (copy inference).
  CopyInference::OpenCounts open_counts_;
  CopyInference copies_;
  MovedInFiles moved_in_;  // reported at their MOVED_TO; a close may follow (moved_in_files.h)

  ActionOrder order_;  // what leaves take_actions(), and in which order
  uint64_t seq_ = 0;

  std::set<std::string> missing_roots_;
  std::optional<SteadyTime> root_recheck_;
  StartScan start_scan_;
  // In start(), before anything is read from the kernel: the walk that may be shared with
  // helper threads (ParallelWalk), the builder being the start's alone.
  bool in_start_ = false;
  uint64_t walked_ = 0;  // directories walked, for the sift of the queue every kSiftEvery
  // An overflow record was read and the queue has not been read empty since: records read
  // meanwhile may miss their sequels (queue_drained).
  bool after_overflow_ = false;
  bool tracking_ = false;           // between begin_rescan() and apply_catch_up()
  std::set<std::string> touched_;   // paths named by actions emitted while tracking_

  // `permissions = true`: those roots, and what was last seen beneath them (empty otherwise).
  std::vector<std::string> permission_roots_;
  PermissionBook perms_;

  uint64_t watch_failures_ = 0;  // directories not watched in the current walk (ENOSPC)
  bool enospc_logged_ = false;
  bool index_done_logged_ = false;
  WatchStats stats_;
};

}  // namespace folderhook::watch
