// ActionOrder: the actions leave in the order things happened. An action whose story is not
// finished yet (a MOVED_FROM waiting for its MOVED_TO: a move, or a destroy when it never comes)
// reserves a slot; every action pushed after it waits behind that slot, even one already
// complete, until the slot is filled. Pure bookkeeping: no I/O, no clock.
//
// Owned by ActionBuilder; called on its thread only.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "watch/file_action.h"

namespace folderhook::watch {

class ActionOrder {
 public:
  using SlotId = uint64_t;
  static constexpr SlotId kAppend = 0;

  // A place in the order for actions not known yet; what is pushed later waits behind it.
  SlotId reserve();
  // The actions of `slot` are all in it: it no longer holds back what follows.
  void fill(SlotId slot);
  // Adds `action` to `slot`, or after everything so far (kAppend).
  void push(FileAction action, SlotId slot = kAppend);
  // The actions of the filled slots at the front, in order; those behind an unfilled slot wait.
  std::vector<FileAction> take();

 private:
  struct Slot {
    bool ready = true;
    std::vector<FileAction> actions;
  };
  std::map<SlotId, Slot> slots_;
  SlotId next_ = 1;
};

}  // namespace folderhook::watch
