// AccountsWatch: the [accounts] watcher on the agent's loop. It watches the directory that holds
// passwd and group (the tools replace them by rename, so the files' own inodes would go stale),
// waits out a burst (useradd writes passwd, group and more within milliseconds), reads both files
// on libuv's thread pool and hands what changed since the last read to `deliver` on the loop.
//
// What was last seen is kept in state_dir (accounts.h): at start the files are compared with it,
// so changes made while the agent was stopped are reported once; the first start ever only
// records. The snapshot is saved only once the outbox has committed the requests that report it
// (the `commit` callback given to `deliver`): a crash in between reports them again at the next
// start (at least once), never not at all.
//
// Every member runs on the loop's thread. The object must outlive the close callbacks: call
// close(), run the loop, then destroy it.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/accounts.h"
#include "common/logger.h"

namespace folderhook::agent {

struct AccountsWatchOptions {
  std::string dir = "/etc";       // holds passwd and group
  std::string state_dir;          // holds the snapshot
  uint64_t debounce_ms = 100;     // from the first event of a burst to the read
};

class AccountsWatch {
 public:
  // Saves the snapshot after these changes; to be called once their requests are committed
  // (true) or could not be (false: nothing is saved). Any thread may call it, once.
  using Commit = std::function<void(bool committed)>;
  // `catch_up`: found by the comparison at start, not by a live event.
  using Deliver = std::function<void(std::vector<AccountChange>&& changes, bool catch_up,
                                     Commit commit)>;
  AccountsWatch(uv_loop_t* loop, AccountsWatchOptions options, Deliver deliver, Logger log);
  ~AccountsWatch();
  AccountsWatch(const AccountsWatch&) = delete;
  AccountsWatch& operator=(const AccountsWatch&) = delete;

  // Places the watch, then starts the first read (the comparison with the stored snapshot).
  // False and `error` when the directory cannot be watched.
  bool start(std::string& error);
  // Stops watching. A read in flight still delivers what it found.
  void close();

 private:
  struct Job;
  void on_readable();
  void schedule();
  void run_job();
  void after_job(Job& job);

  uv_loop_t* loop_;
  AccountsWatchOptions options_;
  Deliver deliver_;
  Logger log_;
  int fd_ = -1;
  uv_poll_t poll_{};
  uv_timer_t timer_{};
  bool started_ = false;
  bool closing_ = false;
  bool job_running_ = false;
  bool dirty_ = false;      // an event came while a read ran: read again after it
  bool first_ = true;       // the next read is the start's comparison
  AccountSnapshot known_;   // as last read (the stored one before the first read)
};

}  // namespace folderhook::agent
