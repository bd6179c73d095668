#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include <random>

#include "delivery/request.h"

namespace folderhook::delivery {

namespace {

// 16 random bytes, taken from a per-thread pool that RAND_bytes fills 256 ids at a time: each
// RAND_bytes call costs a getpid() (OpenSSL's fork check) and a lock, once per delivery before.
// The agent never forks without exec, so two processes never share a pool.
void random_bytes(unsigned char (&out)[16]) {
  constexpr std::size_t kPool = 16 * 256;
  thread_local unsigned char pool[kPool];
  thread_local std::size_t used = kPool;
  if (used == kPool) {
    if (RAND_bytes(pool, static_cast<int>(kPool)) != 1) {
      // RAND_bytes fails only without entropy; fall back to the standard library's source.
      std::random_device rd;
      for (auto& b : pool) b = static_cast<unsigned char>(rd());
    }
    used = 0;
  }
  std::memcpy(out, pool + used, sizeof out);
  OPENSSL_cleanse(pool + used, sizeof out);  // an id handed out is not kept
  used += sizeof out;
}

}  // namespace

std::string new_request_id() {
  unsigned char bytes[16];
  random_bytes(bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "msg_";
  for (const auto b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

}  // namespace folderhook::delivery
