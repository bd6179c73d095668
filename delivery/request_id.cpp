#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
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
  // The first 48 bits are the time in milliseconds (as in a UUIDv7), the other 80 random: ids
  // made one after the other sort near each other, so the outbox's index on them takes each
  // new id into the same few pages (and each delivered one out of them) rather than into a
  // random page of the whole index, which a commit then writes again; 80 random bits keep an
  // id unguessable and unique.
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "msg_";
  for (const auto b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

}  // namespace folderhook::delivery
