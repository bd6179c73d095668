// Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver verifies
// HMAC-SHA256(key, "<id>.<timestamp>.<payload>") where key is the base64-decoded part of
// "whsec_<base64>". Pure functions over OpenSSL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace folderhook::delivery {

std::string base64_encode(std::string_view bytes);
// Accepts standard base64 with or without padding; nullopt on anything else.
std::optional<std::string> base64_decode(std::string_view text);

// The webhook-signature header value "v1,<base64 mac>", or nullopt (and `error`) when the
// secret is not "whsec_" followed by valid base64.
std::optional<std::string> sign_webhook(std::string_view secret, std::string_view id,
                                        int64_t timestamp_s, std::string_view payload,
                                        std::string& error);

}  // namespace folderhook::delivery
