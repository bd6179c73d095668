// Who holds a state_dir's lock (StateLock, outbox.h), seen from outside without touching it:
// `status` says whether an agent runs on the state_dir. The lock is an flock(2); the kernel
// lists the holders of every flock in /proc/locks, so no probe takes the lock even briefly (a
// probe would make an agent that starts at that moment fail with "already in use").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace folderhook::delivery {

// The pid holding an flock on the file (major:minor:inode) in `proc_locks` (the text of
// /proc/locks); 0 when none does. Pure: lines of waiters ("->") and other kinds are skipped.
int flock_holder(std::string_view proc_locks, unsigned major, unsigned minor, uint64_t inode);

// The pid of the agent holding "<state_dir>/lock"; 0 when none does (or the lock file does
// not exist); -1 and `error` when it cannot be told.
int state_dir_holder(const std::string& state_dir, std::string& error);

}  // namespace folderhook::delivery
