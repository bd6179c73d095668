// DeliveryWindow: which committed deliveries are held in memory. At most `limit` are (queued
// in a lane, in flight, or waiting for their result to be committed); the others stay only in
// the outbox and are read back in pages as the window drains:
//   - first attempts in seq order, from a cursor: a committed insert goes straight to its lane
//     only while nothing older waits in the outbox, so submission order is kept;
//   - retries once due (next_at_ms, index outbox_retry_due), up to half the window while
//     first attempts wait, so that neither starves the other;
//   - rows another process wrote while the agent runs (`folderhook replay`), found by the poll.
// A delivery leaves the window only once its result is committed, so that a read never
// brings back a row whose attempt is still being recorded (no second copy, no second send).
//
// The window is one for the whole agent, not one per URL set: a row's URL set is known only
// once its request is decoded, so a per-set window would need the set in its own column.
//
// Writer thread only (it owns the outbox connection the reads use), except held() and peak(),
// which any thread may read.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "delivery/outbox.h"

namespace folderhook::delivery {

class DeliveryWindow {
 public:
  // Hands a row to its lane (first attempt or retry, by row.attempts).
  using Dispatch = std::function<void(PendingRow&& row)>;

  DeliveryWindow(size_t limit, Dispatch dispatch);

  // Everything pending in the outbox as opened is still to be read (resume).
  void resume() { first_backlog_ = true; }
  // A just-committed insert: dispatched now if nothing older waits and there is room, else
  // left in the outbox for fill().
  void committed(int64_t seq, Request&& request);
  // A pending row this dispatcher did not write or read, found by the poll.
  void foreign(int64_t seq);
  // These deliveries' results are committed: they leave memory. next_at_ms > 0 for a retry
  // that waits in the outbox until then.
  struct Release {
    int64_t seq = 0;
    int64_t next_at_ms = 0;
  };
  void release(const std::vector<Release>& released);
  // Reads from the outbox what fits: due retries, skipped foreign rows, then first attempts.
  // false and `error` when a read fails (tried again at the next call).
  bool fill(Outbox& outbox, int64_t now_ms, std::string& error);
  // When fill() must run next for a retry that is not yet due (unix ms).
  int64_t next_check_ms() const { return room() == 0 ? INT64_MAX : retry_check_at_; }

  size_t limit() const { return limit_; }
  size_t held() const { return held_.load(); }
  size_t peak() const { return peak_.load(); }
  uint64_t read_back() const { return read_back_.load(); }

  // A pending row whose request cannot be decoded (PendingRow::unreadable_encoding): it is
  // skipped and stays in the outbox.
  struct Unreadable {
    int64_t seq = 0;
    int encoding = -1;
  };
  // The unreadable rows met since the last call, each row once for the window's life: for the
  // writer to log.
  std::vector<Unreadable> take_unreadable() { return std::exchange(unreadable_, {}); }

 private:
  // true for a row to skip: unreadable (noted for take_unreadable the first time) or without
  // a URL.
  bool skip(const PendingRow& row);
  size_t room() const { return resident_.size() < limit_ ? limit_ - resident_.size() : 0; }
  void take(PendingRow&& row);
  bool fill_retries(Outbox& outbox, int64_t now_ms, size_t budget, std::string& error);
  bool fill_first(Outbox& outbox, std::string& error);

  const size_t limit_;
  Dispatch dispatch_;
  std::unordered_map<int64_t, bool> resident_;  // seqs in memory: read back as a retry?
  size_t retries_read_ = 0;  // how many of them are
  int64_t first_mark_ = 0;     // every first attempt with seq <= this has been in memory
  bool first_backlog_ = false;  // first attempts above first_mark_ may wait in the outbox
  std::vector<int64_t> skipped_;  // foreign rows below first_mark_, not yet read
  int64_t retry_check_at_ = 0;  // unix ms: look for due retries from then on
  bool retry_backlog_ = false;  // due retries were left for want of room
  std::atomic<size_t> held_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> read_back_{0};  // rows read from the outbox
  std::unordered_set<int64_t> unreadable_seen_;
  std::vector<Unreadable> unreadable_;  // not yet taken
};

}  // namespace folderhook::delivery
