#include "delivery/request_codec.h"

#include <cstring>

namespace folderhook::delivery {
namespace {

// 2 added catch_up, 3 the operation's fields and the sink settings, 4 wrote every length,
// count and number as a varint instead of 8 bytes (a third less to write and read back for
// each pending request). Rows written by versions 1 to 3 are still read: an agent upgraded
// with rows pending delivers them.
constexpr char kVersion = kRequestEncoding;
constexpr char kVersionFixedWidth = 3;
constexpr char kVersionWithoutCatchUp = 1;

// Unsigned LEB128: seven bits a byte, low bits first, the high bit set on all but the last.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  Reader(std::string_view in, bool varints) : in_(in), varints_(varints) {}
  bool u64(uint64_t& v) { return varints_ ? varint(v) : fixed(v); }
  bool str(std::string& s) {
    uint64_t n = 0;
    if (!u64(n) || n > in_.size()) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  bool fixed(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  // Refuses a varint that runs off the end or past 64 bits.
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto byte = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      if (shift == 63 && byte > 1) return false;
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  std::string_view in_;
  bool varints_;
};

}  // namespace

std::string encode_request(const Request& r) {
  size_t bytes = 64 + r.id.size() + r.method.size() + r.query.size() + r.body.size() +
                 r.content_type.size() + r.secret.size() + r.action.size() + r.path.size() +
                 r.rule.size();
  for (const auto& u : r.urls) bytes += 2 + u.size();
  for (const auto* pairs : {&r.headers, &r.fields, &r.settings}) {
    for (const auto& [k, v] : *pairs) bytes += 4 + k.size() + v.size();
  }
  std::string out;
  out.reserve(bytes);
  out.push_back(kVersion);
  put_str(out, r.id);
  put_str(out, r.method);
  put_varint(out, r.urls.size());
  for (const auto& u : r.urls) put_str(out, u);
  put_str(out, r.query);
  put_str(out, r.body);
  put_str(out, r.content_type);
  put_varint(out, r.headers.size());
  for (const auto& [k, v] : r.headers) {
    put_str(out, k);
    put_str(out, v);
  }
  put_str(out, r.secret);
  put_str(out, r.action);
  put_str(out, r.path);
  put_str(out, r.rule);
  put_varint(out, static_cast<uint64_t>(r.created_ms));
  put_varint(out, r.catch_up ? 1 : 0);
  for (const auto* pairs : {&r.fields, &r.settings}) {
    put_varint(out, pairs->size());
    for (const auto& [k, v] : *pairs) {
      put_str(out, k);
      put_str(out, v);
    }
  }
  return out;
}

std::optional<Request> decode_request(std::string_view blob) {
  const char version = blob.empty() ? 0 : blob.front();
  if (version < kVersionWithoutCatchUp || version > kVersion) return std::nullopt;
  const bool has_catch_up = version != kVersionWithoutCatchUp;
  const bool has_fields = version >= kVersionFixedWidth;
  Reader in(blob.substr(1), version == kVersion);
  Request r;
  uint64_t n = 0;
  if (!in.str(r.id) || !in.str(r.method) || !in.u64(n) || n > blob.size()) return std::nullopt;
  r.urls.resize(n);
  for (auto& u : r.urls) {
    if (!in.str(u)) return std::nullopt;
  }
  if (!in.str(r.query) || !in.str(r.body) || !in.str(r.content_type) || !in.u64(n) ||
      n > blob.size()) {
    return std::nullopt;
  }
  r.headers.resize(n);
  for (auto& [k, v] : r.headers) {
    if (!in.str(k) || !in.str(v)) return std::nullopt;
  }
  uint64_t created = 0;
  uint64_t catch_up = 0;
  if (!in.str(r.secret) || !in.str(r.action) || !in.str(r.path) || !in.str(r.rule) ||
      !in.u64(created) || (has_catch_up && !in.u64(catch_up))) {
    return std::nullopt;
  }
  if (has_fields) {
    for (auto* pairs : {&r.fields, &r.settings}) {
      if (!in.u64(n) || n > blob.size()) return std::nullopt;
      pairs->resize(n);
      for (auto& [k, v] : *pairs) {
        if (!in.str(k) || !in.str(v)) return std::nullopt;
      }
    }
  }
  if (!in.done()) return std::nullopt;
  r.created_ms = static_cast<int64_t>(created);
  r.catch_up = catch_up != 0;
  return r;
}

}  // namespace folderhook::delivery
