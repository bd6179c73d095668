// The bytes version 2 of the outbox's request encoding wrote (before the operation's fields):
// what an outbox.db of an older release holds, and what an upgraded agent must still read.
#pragma once

#include <cstdint>
#include <string>

#include "delivery/request.h"

namespace folderhook::delivery::test {

inline std::string version_2_blob(const Request& r) {
  std::string out(1, '\x02');
  auto u64 = [&out](uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  auto str = [&](const std::string& s) {
    u64(s.size());
    out += s;
  };
  str(r.id);
  str(r.method);
  u64(r.urls.size());
  for (const auto& u : r.urls) str(u);
  str(r.query);
  str(r.body);
  str(r.content_type);
  u64(r.headers.size());
  for (const auto& [k, v] : r.headers) {
    str(k);
    str(v);
  }
  str(r.secret);
  str(r.action);
  str(r.path);
  str(r.rule);
  u64(static_cast<uint64_t>(r.created_ms));
  u64(r.catch_up ? 1 : 0);
  return out;
}

}  // namespace folderhook::delivery::test
