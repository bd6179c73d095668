#include "delivery/signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

namespace folderhook::delivery {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string padded(text);
  while (padded.size() % 4 != 0) padded.push_back('=');
  if (padded.empty()) return std::string();
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()),
                                static_cast<int>(padded.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes; drop them.
  size_t pad = 0;
  for (auto it = padded.rbegin(); it != padded.rend() && *it == '='; ++it) ++pad;
  if (pad > 2) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::optional<std::string> sign_webhook(std::string_view secret, std::string_view id,
                                        int64_t timestamp_s, std::string_view payload,
                                        std::string& error) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    error = "webhook secret must start with \"whsec_\"";
    return std::nullopt;
  }
  const auto key = base64_decode(secret.substr(kPrefix.size()));
  if (!key || key->empty()) {
    error = "webhook secret after \"whsec_\" is not valid base64";
    return std::nullopt;
  }
  std::string message;
  message.reserve(id.size() + payload.size() + 24);
  message.append(id).append(".").append(std::to_string(timestamp_s)).append(".").append(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
           &mac_len) == nullptr) {
    error = "HMAC-SHA256 failed";
    return std::nullopt;
  }
  return "v1," + base64_encode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
}

}  // namespace folderhook::delivery
