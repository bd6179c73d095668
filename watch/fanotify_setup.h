// The fanotify backend's setup, apart from its engine: the message for each refusal of
// fanotify_init or fanotify_mark, the kernel queue's size, and where a missing root is marked.
// Pure but for the reads of /proc and stat(); any thread.
#pragma once

#include <cstddef>
#include <string>

namespace folderhook::watch {

// What fanotify_init's errno `err` means to the user; `without_target_fid`: the retry without
// FAN_REPORT_TARGET_FID (pre-5.17) is the one that failed.
std::string init_error(int err, bool without_target_fid);
// What fanotify_mark's errno `err` on `path` means to the user.
std::string mark_error(int err, const std::string& path);
// fs.fanotify.max_queued_events: the kernel queue's size for a group made now (16,384 by
// default; a group without FAN_UNLIMITED_QUEUE gets what it was at fanotify_init).
std::size_t max_queued_events();
// The nearest existing directory at or above `path`: a missing root is marked through it.
std::string existing_ancestor(std::string path);

}  // namespace folderhook::watch
