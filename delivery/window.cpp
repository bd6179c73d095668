#include "delivery/window.h"

#include <algorithm>

namespace folderhook::delivery {
namespace {

// With no retry known to be due, the outbox is looked at this often anyway (a row written by
// another process, a clock step).
constexpr int64_t kRetryCheckMs = 5000;

// Read first attempts back only once this share of the window is free: pages, not single rows.
constexpr size_t kPageShare = 16;

}  // namespace

DeliveryWindow::DeliveryWindow(size_t limit, Dispatch dispatch)
    : limit_(std::max<size_t>(1, limit)), dispatch_(std::move(dispatch)) {}

void DeliveryWindow::take(PendingRow&& row) {
  const bool retry = row.attempts > 0;
  if (!resident_.emplace(row.seq, retry).second) return;  // in memory: never a second copy
  if (retry) ++retries_read_;
  held_.store(resident_.size());
  if (resident_.size() > peak_.load()) peak_.store(resident_.size());
  dispatch_(std::move(row));
}

bool DeliveryWindow::skip(const PendingRow& row) {
  if (row.unreadable_encoding) {
    if (unreadable_seen_.insert(row.seq).second) {
      unreadable_.push_back(Unreadable{row.seq, *row.unreadable_encoding});
    }
    return true;
  }
  return row.request.urls.empty();
}

void DeliveryWindow::committed(int64_t seq, Request&& request) {
  if (first_backlog_ || room() == 0) {
    first_backlog_ = true;  // fill() reads it back, after the older ones
    return;
  }
  first_mark_ = std::max(first_mark_, seq);
  take(PendingRow{seq, std::move(request), 0, 0, {}, 0, std::nullopt});
}

void DeliveryWindow::foreign(int64_t seq) {
  if (resident_.count(seq) != 0) return;
  if (seq > first_mark_) {
    first_backlog_ = true;  // the cursor reaches it in order
  } else {
    skipped_.push_back(seq);  // committed before a row the cursor has passed
  }
  retry_check_at_ = 0;  // it may be a retry
}

void DeliveryWindow::release(const std::vector<Release>& released) {
  for (const Release& r : released) {
    const auto it = resident_.find(r.seq);
    if (it == resident_.end()) continue;
    if (it->second) --retries_read_;
    resident_.erase(it);
    if (r.next_at_ms > 0) retry_check_at_ = std::min(retry_check_at_, r.next_at_ms);
  }
  held_.store(resident_.size());
}

bool DeliveryWindow::fill(Outbox& outbox, int64_t now_ms, std::string& error) {
  if ((now_ms >= retry_check_at_ || retry_backlog_) && room() > 0) {
    retry_check_at_ = now_ms + kRetryCheckMs;  // also after a failed read: no busy loop
    // While first attempts wait, retries read back hold at most half of the window.
    const size_t half = std::max<size_t>(1, limit_ / 2);
    const size_t budget =
        !first_backlog_ ? room() : std::min(room(), half > retries_read_ ? half - retries_read_ : 0);
    if (budget == 0) {
      // Half the window holds retries already: look again when one of them leaves.
      retry_backlog_ = true;
    } else if (!fill_retries(outbox, now_ms, budget, error)) {
      return false;
    }
  }
  while (!skipped_.empty() && room() > 0) {
    std::optional<PendingRow> row;
    if (!outbox.load_row(skipped_.back(), row, error)) return false;
    skipped_.pop_back();
    // A retry among them is the retry query's (due, not in memory): only first attempts here.
    if (row && !skip(*row) && row->attempts == 0) {
      ++read_back_;
      take(std::move(*row));
    }
  }
  return fill_first(outbox, error);
}

bool DeliveryWindow::fill_retries(Outbox& outbox, int64_t now_ms, size_t budget,
                                  std::string& error) {
  // Due rows already in memory (in flight, or their result not yet committed) come back from
  // the query too: ask for enough to find `budget` others.
  std::vector<int64_t> seqs;
  if (!outbox.due_retry_seqs(now_ms, budget + resident_.size(), seqs, error)) return false;
  size_t taken = 0;
  retry_backlog_ = false;
  for (const int64_t seq : seqs) {
    if (resident_.count(seq) != 0) continue;
    if (taken == budget) {
      retry_backlog_ = true;
      break;
    }
    std::optional<PendingRow> row;
    if (!outbox.load_row(seq, row, error)) return false;
    if (!row || skip(*row)) continue;
    ++read_back_;
    ++taken;
    take(std::move(*row));
  }
  const int64_t next = outbox.next_retry_after(now_ms);
  retry_check_at_ = now_ms + kRetryCheckMs;
  if (next > 0) retry_check_at_ = std::min(retry_check_at_, next);
  return true;
}

bool DeliveryWindow::fill_first(Outbox& outbox, std::string& error) {
  const size_t page_min = std::max<size_t>(1, limit_ / kPageShare);
  while (first_backlog_ && room() >= page_min) {
    const size_t want = room();
    std::vector<PendingRow> rows;
    if (!outbox.load_first_page(first_mark_, want, rows, error)) return false;
    if (rows.size() < want) first_backlog_ = false;  // caught up: inserts go straight through
    for (PendingRow& row : rows) {
      first_mark_ = std::max(first_mark_, row.seq);
      if (skip(row)) continue;  // stays in the table
      ++read_back_;
      take(std::move(row));
    }
    if (rows.empty()) break;
  }
  return true;
}

}  // namespace folderhook::delivery
