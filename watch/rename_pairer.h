// RenamePairer: a MOVED_FROM waits for the MOVED_TO that carries its cookie. The MOVED_TO may
// arrive in a later read(), or never (moved out of every watched folder): past the pairing
// window the move is handed back as expired, for the builder to name as a destroy. Two
// unrelated moves may sit side by side; only the cookie pairs them. Pure bookkeeping: no I/O,
// time comes in as arguments.
//
// Owned by ActionBuilder; called on its thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "watch/action_order.h"
#include "watch/actor.h"
#include "watch/pending_write.h"

namespace folderhook::watch {

// A MOVED_FROM waiting for its MOVED_TO. The actions it ends in go to `slot` (ActionOrder), so
// that the actions after it wait behind it.
struct PendingMove {
  std::string path;
  bool is_dir = false;
  std::optional<PendingWrite> write;               // the pending write that moves with the file
  std::chrono::steady_clock::time_point deadline;  // the end of the pairing window
  std::chrono::system_clock::time_point at;
  ActionOrder::SlotId slot = ActionOrder::kAppend;
  Actor actor;
};

class RenamePairer {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using Moves = std::map<uint32_t, PendingMove>;

  // A MOVED_FROM with `cookie`; it waits until `move.deadline`.
  void moved_from(uint32_t cookie, PendingMove move);
  // A MOVED_TO with `cookie`: its MOVED_FROM, taken out; nullopt when none waits (moved in from
  // outside every watched folder, or its window has ended).
  std::optional<PendingMove> moved_to(uint32_t cookie);
  // Takes out the moves whose window ended by `now`, in the order they happened.
  std::vector<PendingMove> expire(SteadyTime now);
  // The end of the earliest window still open.
  std::optional<SteadyTime> next_deadline() const;
  // Takes out the moves whose old path `gone` says, in no particular order.
  template <typename Pred>
  std::vector<PendingMove> forget_if(Pred gone) {
    std::vector<PendingMove> out;
    for (auto it = moves_.begin(); it != moves_.end();) {
      if (gone(it->second.path)) {
        out.push_back(std::move(it->second));
        it = moves_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  // The moves waiting, by cookie.
  Moves::const_iterator begin() const { return moves_.begin(); }
  Moves::const_iterator end() const { return moves_.end(); }

 private:
  Moves moves_;
  // Deadlines in order with their cookie. An entry whose move has since paired, or was replaced,
  // is stale: skipped when it comes up (next_deadline() drops stale entries, hence mutable).
  mutable std::priority_queue<std::pair<SteadyTime, uint32_t>,
                              std::vector<std::pair<SteadyTime, uint32_t>>, std::greater<>>
      due_;
};

}  // namespace folderhook::watch
