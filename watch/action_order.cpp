// ActionOrder: actions in the order things happened (action_order.h).
#include "watch/action_order.h"

namespace folderhook::watch {

ActionOrder::SlotId ActionOrder::reserve() {
  const SlotId id = next_++;
  slots_[id] = Slot{false, {}};
  return id;
}

void ActionOrder::fill(SlotId slot) {
  if (auto it = slots_.find(slot); it != slots_.end()) it->second.ready = true;
}

void ActionOrder::push(FileAction action, SlotId slot) {
  if (slot == kAppend) {
    // The last slot is a move's, not filled yet: a new one after it, for this action is not
    // one of the move's.
    if (slots_.empty() || !slots_.rbegin()->second.ready) slots_[next_++] = Slot{};
    slots_.rbegin()->second.actions.push_back(std::move(action));
  } else {
    slots_[slot].actions.push_back(std::move(action));
  }
}

std::vector<FileAction> ActionOrder::take() {
  std::vector<FileAction> out;
  while (!slots_.empty() && slots_.begin()->second.ready) {
    for (FileAction& action : slots_.begin()->second.actions) out.push_back(std::move(action));
    slots_.erase(slots_.begin());
  }
  return out;
}

}  // namespace folderhook::watch
