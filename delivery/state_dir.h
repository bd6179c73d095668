// The state_dir's permissions. It holds every secret of the rules (signing secrets, URL
// passwords and tokens, Authorization headers: the outbox stores each request whole) and the
// name of every watched file, so only the agent's user may read it: the directory is 0700 and
// every file in it 0600, whatever the umask. SQLite creates outbox.db-wal and -shm with the
// mode of outbox.db, so a 0600 database makes them 0600 too.
//
// A state_dir that another user can write to (a group or other write bit, or another owner)
// is refused rather than repaired: that user could already have replaced or linked its files.
// Pure functions of the filesystem; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace folderhook::delivery {

inline constexpr unsigned kStateDirMode = 0700;
inline constexpr unsigned kStateFileMode = 0600;

// Why `dir` cannot be the state_dir, changing nothing: "" when it can. An existing directory
// must give no group or other write permission and be writable (its owner is prepare_state_dir's
// concern: `check` or `status` may run as another user than the agent);
// a missing one must be creatable (its first missing component is made and removed again to
// prove it: a dangling symlink, a read-only or pseudo filesystem, a name too long all fail).
std::string state_dir_problem(const std::string& dir);

// Makes `dir` ready for the agent: creates it 0700 when missing (parents as the umask gives
// them); when it exists, refuses what state_dir_problem refuses and a directory that belongs to
// another user than the effective one, and otherwise tightens the
// directory to 0700 and each regular file in it (owned by the effective user) to 0600.
// Returns false with `error` on refusal or failure. `tightened` gets one "PATH: 0755 -> 0700"
// per change, for the log.
bool prepare_state_dir(const std::string& dir, std::vector<std::string>& tightened,
                       std::string& error);

// Creates `dir` 0700 if missing (parents as the umask gives them). For the lock and the outbox,
// which may be opened before or without prepare_state_dir (the tests, `status`).
bool create_state_dir(const std::string& dir, std::string& error);

// Opens (creating it if missing) the file at `path` with `flags` | O_CREAT | O_CLOEXEC |
// O_NOFOLLOW and makes it 0600 whatever the umask. The descriptor, or -1 with `error`.
int open_private_file(const std::string& path, int flags, std::string& error);

// Writes `bytes` to "<path>.tmp" (0600) and renames it onto `path`, so a reader sees the old
// or the new content, never half of it.
bool replace_private_file(const std::string& path, std::string_view bytes, std::string& error);

}  // namespace folderhook::delivery
