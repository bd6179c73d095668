// RenamePairer: MOVED_FROM and MOVED_TO paired by cookie within a window (rename_pairer.h).
#include "watch/rename_pairer.h"

#include <algorithm>

namespace folderhook::watch {

void RenamePairer::moved_from(uint32_t cookie, PendingMove move) {
  due_.emplace(move.deadline, cookie);
  moves_[cookie] = std::move(move);
}

std::optional<PendingMove> RenamePairer::moved_to(uint32_t cookie) {
  const auto found = moves_.find(cookie);
  if (found == moves_.end()) return std::nullopt;
  PendingMove move = std::move(found->second);
  moves_.erase(found);
  return move;
}

std::vector<PendingMove> RenamePairer::expire(SteadyTime now) {
  std::vector<std::pair<ActionOrder::SlotId, uint32_t>> due;
  while (!due_.empty() && due_.top().first <= now) {
    const auto [deadline, cookie] = due_.top();
    due_.pop();
    auto it = moves_.find(cookie);
    if (it != moves_.end() && it->second.deadline == deadline) {
      due.emplace_back(it->second.slot, cookie);
    }
  }
  // In the order they happened: each fills the slot that holds the actions behind it.
  std::sort(due.begin(), due.end());
  std::vector<PendingMove> out;
  for (const auto& [slot, cookie] : due) {
    auto it = moves_.find(cookie);
    if (it == moves_.end()) continue;
    out.push_back(std::move(it->second));
    moves_.erase(it);
  }
  return out;
}

std::optional<RenamePairer::SteadyTime> RenamePairer::next_deadline() const {
  while (!due_.empty()) {
    const auto item = moves_.find(due_.top().second);
    if (item != moves_.end() && item->second.deadline == due_.top().first) {
      return due_.top().first;
    }
    due_.pop();
  }
  return std::nullopt;
}

}  // namespace folderhook::watch
