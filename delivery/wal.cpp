#include "delivery/wal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace folderhook::delivery {

std::unique_ptr<WalSyncer> WalSyncer::start(std::string wal_path, Logger logger,
                                            std::string& error, std::chrono::milliseconds min_gap) {
  const int fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open '" + wal_path + "': " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<WalSyncer> s(new WalSyncer(std::move(wal_path), fd, std::move(logger), min_gap));
  s->thread_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "wal-sync");
    p->run();
  });
  return s;
}

WalSyncer::WalSyncer(std::string wal_path, int fd, Logger logger,
                     std::chrono::milliseconds min_gap)
    : path_(std::move(wal_path)), min_gap_(min_gap), fd_(fd), logger_(std::move(logger)) {}

WalSyncer::~WalSyncer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void WalSyncer::request() {
  {
    std::lock_guard lock(mu_);
    ++requested_;
  }
  cv_.notify_all();
}

void WalSyncer::flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = requested_;
  ++flushing_;
  cv_.notify_all();  // ends the gap the syncer may be waiting out
  cv_.wait(lock, [&] { return synced_ >= target || stopping_; });
  --flushing_;
}

void WalSyncer::run() {
  std::unique_lock lock(mu_);
  // None before the first sync, which starts at once: a default time_point is the clock's
  // epoch, the machine's boot, and a gap counted from it was waited out on a machine up for
  // less than the gap.
  std::optional<std::chrono::steady_clock::time_point> last_start;
  for (;;) {
    cv_.wait(lock, [this] { return requested_ > synced_ || stopping_; });
    if (requested_ == synced_) return;  // stopping, and nothing left to sync
    // Commits made during the gap join this sync.
    if (last_start) {
      cv_.wait_until(lock, *last_start + min_gap_, [this] { return stopping_ || flushing_ > 0; });
    }
    const uint64_t target = requested_;
    last_start = std::chrono::steady_clock::now();
    lock.unlock();
    sync_once();
    lock.lock();
    synced_ = target;
    cv_.notify_all();
  }
}

bool WalSyncer::sync_once() {
  // SQLite deletes the WAL when its last connection closes and creates it again; the writer's
  // connection stays open while the agent runs, so this is a safeguard, checked by inode.
  struct stat held {};
  struct stat now {};
  if (fd_ < 0 || ::fstat(fd_, &held) != 0 || ::stat(path_.c_str(), &now) != 0 ||
      held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = fd;
      entry_synced_ = false;
    }
  }
  if (fd_ >= 0 && ::fdatasync(fd_) == 0 && (entry_synced_ || sync_entry())) {
    syncs_.fetch_add(1);
    last_error_.clear();
    return true;
  }
  std::string message = fd_ < 0 ? "not open" : std::strerror(errno);
  if (message != last_error_) {
    logger_("error", "outbox sync failed: a power cut could lose the latest requests",
            {{"wal", path_}, {"error", message}});
    last_error_ = std::move(message);
  }
  return false;
}

// The WAL's name in its directory must survive a power cut too (SQLite creates the file at
// each start): the directory is synced once for each WAL file.
bool WalSyncer::sync_entry() {
  const auto slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  entry_synced_ = ok;
  if (ok) entry_syncs_.fetch_add(1);
  return ok;
}

std::unique_ptr<Checkpointer> Checkpointer::start(const std::string& db_path, sqlite3* writer,
                                                  Logger logger, std::string& error,
                                                  int threshold_pages) {
  sqlite3* own = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    error = "cannot open '" + db_path + "' for checkpoints: " +
            (own ? sqlite3_errmsg(own) : "out of memory");
    sqlite3_close(own);
    return nullptr;
  }
  // A checkpoint syncs the WAL before it copies and the database after, as the writer's
  // commits are synced: FULL on both connections.
  char* message = nullptr;
  if (sqlite3_exec(own, "PRAGMA synchronous=FULL", nullptr, nullptr, &message) != SQLITE_OK) {
    error = "cannot set up checkpoints on '" + db_path + "': " + (message ? message : "?");
    sqlite3_free(message);
    sqlite3_close(own);
    return nullptr;
  }
  // Its own checkpoints would be the writer's again: this connection never writes, but make sure.
  sqlite3_wal_autocheckpoint(own, 0);
  std::unique_ptr<Checkpointer> c(
      new Checkpointer(own, writer, std::move(logger), threshold_pages));
  sqlite3_wal_hook(writer, &Checkpointer::on_wal, c.get());
  c->thread_ = std::thread([p = c.get()] {
    pthread_setname_np(pthread_self(), "wal-checkpoint");
    p->run();
  });
  return c;
}

Checkpointer::Checkpointer(sqlite3* own, sqlite3* writer, Logger logger, int threshold_pages)
    : own_(own), writer_(writer), logger_(std::move(logger)), threshold_(threshold_pages) {}

Checkpointer::~Checkpointer() {
  // Back to SQLite's own checkpoints first, so that the hook never sees a dying object.
  sqlite3_wal_autocheckpoint(writer_, 1000);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  sqlite3_close(own_);
}

// Writer thread, after each commit, with the WAL's size in frames.
int Checkpointer::on_wal(void* self, sqlite3*, const char*, int frames) {
  auto* c = static_cast<Checkpointer*>(self);
  int copied = c->copied_.load();
  if (frames < copied) {
    // The writer started the WAL over (everything had been copied): count from its start.
    c->copied_.store(0);
    copied = 0;
  }
  if (frames - copied >= c->threshold_) {
    {
      std::lock_guard lock(c->mu_);
      c->wanted_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return wanted_ || stopping_; });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    int log = 0;
    int done = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_OK) {
      if (done > 0) copied_.store(done);
      checkpoints_.fetch_add(1);
      last_error_.clear();
    } else if (rc != SQLITE_BUSY) {
      // Another checkpoint in progress is BUSY and harmless; anything else is worth a line,
      // once: the WAL grows until a later checkpoint succeeds, and nothing is lost meanwhile.
      std::string message = sqlite3_errmsg(own_);
      if (message != last_error_) {
        logger_("warn", "outbox checkpoint failed; the WAL grows until one succeeds",
                {{"error", message}});
        last_error_ = std::move(message);
      }
    }
    lock.lock();
  }
}

}  // namespace folderhook::delivery
