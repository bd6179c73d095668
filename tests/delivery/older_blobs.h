// The bytes older versions of the outbox's request encoding wrote, every length, count and
// number in 8 bytes: version 2 (before the operation's fields) and version 3 (with them, before
// varints). What an outbox.db of an older release holds, and what an upgraded agent must still
// read.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "delivery/request.h"

namespace folderhook::delivery::test {

inline std::string fixed_width_blob(const Request& r, char version) {
  std::string out(1, version);
  auto u64 = [&out](uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  auto str = [&](const std::string& s) {
    u64(s.size());
    out += s;
  };
  auto pairs = [&](const std::vector<std::pair<std::string, std::string>>& kv) {
    u64(kv.size());
    for (const auto& [k, v] : kv) {
      str(k);
      str(v);
    }
  };
  str(r.id);
  str(r.method);
  u64(r.urls.size());
  for (const auto& u : r.urls) str(u);
  str(r.query);
  str(r.body);
  str(r.content_type);
  pairs(r.headers);
  str(r.secret);
  str(r.action);
  str(r.path);
  str(r.rule);
  u64(static_cast<uint64_t>(r.created_ms));
  u64(r.catch_up ? 1 : 0);
  if (version >= 3) {
    pairs(r.fields);
    pairs(r.settings);
  }
  return out;
}

inline std::string version_2_blob(const Request& r) { return fixed_width_blob(r, '\x02'); }
inline std::string version_3_blob(const Request& r) { return fixed_width_blob(r, '\x03'); }

}  // namespace folderhook::delivery::test
