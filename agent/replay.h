// Replaying a dead letter under the rules in force now, so that fixing a URL in rules.toml and
// replaying sends it to the fixed URL. Pure functions: no I/O.
#pragma once

#include <string>
#include <vector>

#include "agent/config.h"
#include "delivery/request.h"

namespace folderhook::agent {

struct ReplayedRequest {
  delivery::Request request;
  // Why the stored URLs, method, headers or secret were kept; "" when the current rule's are used.
  std::string kept_stored;
};

// The rule of `stored` now: the [[folder]] with the path it was made for (request.rule); of
// several with that path, the one with the same URLs. nullptr when the folder is no longer in
// the rules, or when several rules have its path and none has its URLs, or for an
// expectation's alert (action "expect-missed" or "expect-arrived": sent as stored).
const FolderRule* current_rule_of(const std::vector<FolderRule>& rules,
                                  const delivery::Request& stored);

// `stored` with the URLs, method, headers and secret of `rule` (nullptr: kept as stored). The
// id, the fields (action, path, at, ...) and the labels stay as stored. A changed method
// carries the same fields between the query string and the JSON body. A multipart body
// (file_field) cannot become a query string: when the rule now says GET, such a request is
// kept as stored, with the reason.
ReplayedRequest with_current_rule(const delivery::Request& stored, const FolderRule* rule);

}  // namespace folderhook::agent
