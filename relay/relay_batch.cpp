#include "relay/relay_batch.h"

#include <openssl/evp.h>

#include <algorithm>

namespace folderhook::relay {

bool batched(const Routes& routes) {
  return routes.size() == 1 && routes.front()->pacing.batching();
}

std::vector<size_t> batch_positions(const std::vector<Routes>& pending) {
  std::vector<size_t> out;
  if (pending.empty() || !batched(pending.front())) return out;
  const agent::FolderRule* folder = pending.front().front();
  for (size_t i = 0; i < pending.size() && out.size() < folder->pacing.batch_max; ++i) {
    const Routes& r = pending[i];
    if (std::find(r.begin(), r.end(), folder) == r.end()) continue;  // another folder's
    if (r.size() != 1) break;  // shared with another folder: it goes after this batch
    out.push_back(i);
  }
  return out;
}

std::string relay_batch_id(const std::vector<std::string>& member_ids) {
  std::string text;
  for (const std::string& id : member_ids) {
    text += id;
    text += '\n';  // an id holds no newline: the list reads back one way only
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "batch_";
  for (unsigned int i = 0; i < 16 && i < size; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace folderhook::relay
