// Outbox: the SQLite database in state_dir (WAL) that holds pending deliveries, dead letters,
// per-URL statistics and the email rate limit. One Outbox is one connection: use it from one
// thread at a time. The Dispatcher's writer thread owns the write connection and applies every
// change as a Batch in one transaction (group commit); status and replay open their own.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "delivery/index_change.h"
#include "delivery/request.h"

struct sqlite3;

namespace folderhook::delivery {

class Stmt;  // delivery/sqlite_stmt.h

// The exclusive lock on a state_dir (flock on "<state_dir>/lock", which also holds the pid).
// Released by the destructor or by the death of the process.
class StateLock {
 public:
  // Creates state_dir if missing. nullptr and `error` if another process holds the lock.
  static std::unique_ptr<StateLock> acquire(const std::string& state_dir, std::string& error);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

struct PendingRow {
  int64_t seq = 0;
  Request request;
  int attempts = 0;         // attempts already made
  int64_t next_at_ms = 0;   // when the next attempt is due (0 = now)
  // The batch it was sent in (outbox_batch), "" when none: its id and how many members it has.
  std::string batch_id;
  size_t batch_size = 0;
  // A stored request this agent cannot decode (written by a newer folderhook, or damaged)
  // leaves `request` empty and gives the encoding its first byte claims (-1: an empty blob).
  // The row stays in the outbox, neither sent nor deleted.
  std::optional<int> unreadable_encoding;
};

// That these deliveries (by id, in order) form the batch `batch_id` (lane.h): committed before
// the batch is first sent, forgotten when a member is delivered or dead.
struct BatchMark {
  std::string batch_id;
  std::vector<std::string> member_ids;
};

struct UrlOutcome {
  std::string url;  // masked
  int status = 0;
  std::string error;
  bool ok = false;
  int64_t at_ms = 0;
};

// What a run of attempts to one URL leaves in url_stats: the last outcome, whether any
// succeeded (and when the last did), and the failures after the last success (or, without a
// success, all of them: they add to the stored count).
struct UrlSummary {
  const UrlOutcome* last = nullptr;
  bool succeeded = false;
  int64_t last_success_ms = 0;
  int64_t failures_since_success = 0;
};
// Pure: the outcomes of one commit, in order, summarized per URL.
std::map<std::string, UrlSummary> summarize_url_outcomes(const std::vector<UrlOutcome>& outcomes);

struct RetryUpdate {
  std::string id;
  int attempts = 0;
  int64_t next_at_ms = 0;
  int status = 0;
  std::string error;
};

struct DeadLetter {
  Request request;
  int attempts = 0;
  int status = 0;
  std::string error;
  std::string body;  // first 2 KB of the last response body
  int64_t died_ms = 0;
};

// A pending row whose delivery succeeded. `seq` 0: not known, the row is found by its id.
struct DeliveredRow {
  std::string id;
  int64_t seq = 0;
};

// Everything one group commit writes.
struct Batch {
  std::vector<Request> inserts;  // ids already assigned
  std::vector<DeliveredRow> delivered;
  std::vector<RetryUpdate> retries;
  std::vector<DeadLetter> dead;
  std::vector<UrlOutcome> url_outcomes;
  std::vector<IndexChange> index_changes;  // applied in order
  std::vector<BatchMark> batch_marks;
  bool empty() const {
    return inserts.empty() && delivered.empty() && retries.empty() && dead.empty() &&
           url_outcomes.empty() && index_changes.empty() && batch_marks.empty();
  }
  size_t size() const {
    return inserts.size() + delivered.size() + retries.size() + dead.size() + url_outcomes.size() +
           index_changes.size() + batch_marks.size();
  }
};

// A group of unnotified dead letters of one rule, for the summary email.
struct DeadSummary {
  std::string rule;
  int count = 0;
  std::vector<std::string> urls;   // masked, distinct
  std::string last_error;
  int last_status = 0;
  std::vector<std::string> sample_paths;  // up to 10
  std::vector<std::string> ids;
  int64_t first_died_ms = 0;
  int64_t last_died_ms = 0;
};

class Outbox {
 public:
  static std::unique_ptr<Outbox> open(const std::string& state_dir, std::string& error);
  // For the command line: nullptr and `error` when state_dir has no outbox yet, rather than
  // creating one (a typo in state_dir must not look like an empty outbox).
  static std::unique_ptr<Outbox> open_existing(const std::string& state_dir, std::string& error);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // One transaction. On success fills `seqs` with the seq of each insert, in order. On failure
  // rolls back, sets `error`, and `disk_full` when SQLite reports a full disk.
  // Synced before it returns (synchronous=FULL) unless set_synced(false) was called.
  bool commit(const Batch& batch, std::vector<int64_t>& seqs, std::string& error,
              bool& disk_full);
  // Pending rows with seq > after_seq, in seq order.
  bool load_pending(int64_t after_seq, std::vector<PendingRow>& rows, std::string& error);
  // Seqs of pending rows above after_seq (cheap: no blobs).
  bool pending_seqs(int64_t after_seq, std::vector<int64_t>& seqs, std::string& error);
  // The row `seq` (nullopt when there is none); one that cannot be decoded has
  // unreadable_encoding set.
  bool load_row(int64_t seq, std::optional<PendingRow>& row, std::string& error);

  // Paged reads for the in-memory window (window.h); outbox_pages.cpp.
  // Up to `limit` rows never attempted with seq > after_seq, in seq order.
  bool load_first_page(int64_t after_seq, size_t limit, std::vector<PendingRow>& rows,
                       std::string& error);
  // Seqs of up to `limit` retries due at now_ms, earliest first (index outbox_retry_due).
  bool due_retry_seqs(int64_t now_ms, size_t limit, std::vector<int64_t>& seqs,
                      std::string& error);
  // The earliest next_at_ms of a retry after now_ms; 0 when there is none.
  int64_t next_retry_after(int64_t now_ms);
  // The highest seq ever pending and the number pending now (for the start).
  int64_t max_seq();
  int64_t pending_count();

  // The whole index of the watched trees, in path order, and the folders indexed.
  bool load_index(IndexSnapshot& out, std::string& error);
  // Only the folders indexed.
  bool load_indexed_roots(std::vector<std::string>& out, std::string& error);

  // Unnotified dead letters grouped by rule.
  bool dead_summaries(std::vector<DeadSummary>& out, std::string& error);
  bool mark_notified(const DeadSummary& summary, int64_t now_ms, std::string& error);
  // 0 when no email was ever sent for the rule.
  int64_t last_notified_ms(const std::string& rule);

  sqlite3* handle() { return db_; }
  // false: commits return once their frames are written to the WAL (synchronous=NORMAL), and
  // the caller syncs the WAL itself (WalSyncer). A crash of the process cannot lose them.
  bool set_synced(bool full, std::string& error);

  // Test hook: makes the database "full" after `pages` pages (PRAGMA max_page_count).
  void limit_pages_for_test(int64_t pages);

 private:
  explicit Outbox(sqlite3* db);  // out of line: Stmt is complete only in outbox.cpp
  bool apply_index_changes(const std::vector<IndexChange>& changes);
  // The commit path's statements, prepared once per connection rather than per commit (a burst
  // commits a few rows at a time, and SQLite's parser showed in its profile). Keyed by the
  // literal's address: each call site has its own. Writer thread only, like commit().
  Stmt& statement(const char* sql);
  bool run_cached(const char* sql, std::string& error);
  sqlite3* db_;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> statements_;
  // Whether outbox_batch may hold rows: set at open and by each commit of batch marks (only
  // the agent's writer marks batches; `folderhook replay` does not). Without batches its
  // lookups, one per delivered row and one per row read back, are skipped.
  bool batches_stored_ = true;
};

int64_t unix_ms_now();

}  // namespace folderhook::delivery
