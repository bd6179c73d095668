// Batches (batch_max > 1, lane_policy.h): the one POST that carries several committed
// deliveries. Pure.
//
// The body is a JSON array, in the members' order, of each member's usual object (payload.h:
// the operation's fields) with one more member, "id": that delivery's own webhook-id. The
// request carries the batch's own webhook-id, and its signature (when the folder has a secret)
// covers the whole body. URLs, headers, secret and settings are the first member's (members of
// one batch share one lane, so one URL set and one folder's settings).
#pragma once

#include <string>
#include <vector>

#include "delivery/request.h"

namespace folderhook::delivery {

// The array body of these members (each one's object with its "id").
std::string batch_body(const std::vector<const Request*>& members);

// The request of the batch `id` of these members (at least one).
Request batch_request(const std::string& id, const std::vector<const Request*>& members);

}  // namespace folderhook::delivery
