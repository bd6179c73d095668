// A folder rule with only its pacing set (delivery/lane_policy.h: max_per_second, batch_max),
// for the relay's tests of which folders wait and what one batch carries.
#pragma once

#include <cstddef>

#include "agent/config.h"

namespace folderhook::relay::testing {

inline agent::FolderRule paced_rule(double max_per_second, size_t batch_max = 1) {
  agent::FolderRule rule;
  rule.pacing.max_per_second = max_per_second;
  rule.pacing.batch_max = batch_max;
  return rule;
}

}  // namespace folderhook::relay::testing
