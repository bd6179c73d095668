// Batches in the relay (batch_max > 1 on a [[folder]], issue 20): which fetched messages one
// POST carries, and its webhook-id. Pure. The body is the agent's (delivery/batch.h).
//
// A message is batched when its only folder batches; one that several folders want is sent to
// each on its own (as a batch of one to a batching folder). A batch takes, in stream order, the
// messages routed to its folder alone, passing over those of other folders, and stops before a
// message that its folder shares with another: that one must reach the folder after them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "agent/config.h"

namespace folderhook::relay {

using Routes = std::vector<const agent::FolderRule*>;

// True when a message routed to `routes` waits for a batch: one folder, with batch_max > 1.
bool batched(const Routes& routes);

// Positions in `pending` (the routes of the messages waiting, in the order they are handled)
// of the batch that starts at position 0, which must be batched(); at most the folder's
// batch_max.
std::vector<size_t> batch_positions(const std::vector<Routes>& pending);

// The batch's webhook-id, derived from its members' ids in order ("batch_" and 32 hex digits of
// their SHA-256): the same set, redelivered and regrouped, is sent under the same id, so that a
// receiver drops a duplicate batch as it drops a duplicate message.
std::string relay_batch_id(const std::vector<std::string>& member_ids);

}  // namespace folderhook::relay
