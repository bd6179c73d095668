// The byte encoding of a Request in the outbox. Length-prefixed fields (the lengths as
// varints), so that every byte of a path, query or body survives (JSON would reject non-UTF-8
// file names).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "delivery/request.h"

namespace folderhook::delivery {

// The encoding this build writes; it reads every one from 1 up to it.
inline constexpr int kRequestEncoding = 4;

std::string encode_request(const Request& request);
// nullopt when the blob is truncated or of an unknown version.
std::optional<Request> decode_request(std::string_view blob);

}  // namespace folderhook::delivery
