#include "delivery/request_codec.h"

#include <cstring>

namespace folderhook::delivery {
namespace {

// 2 added catch_up, 3 the operation's fields and the sink settings; rows written by versions 1 and 2 are still read
// (an agent upgraded with rows pending delivers them).
constexpr char kVersion = 3;
constexpr char kVersionWithoutFields = 2;
constexpr char kVersionWithoutCatchUp = 1;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s) {
    uint64_t n = 0;
    if (!u64(n) || n > in_.size()) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string encode_request(const Request& r) {
  std::string out(1, kVersion);
  put_str(out, r.id);
  put_str(out, r.method);
  put_u64(out, r.urls.size());
  for (const auto& u : r.urls) put_str(out, u);
  put_str(out, r.query);
  put_str(out, r.body);
  put_str(out, r.content_type);
  put_u64(out, r.headers.size());
  for (const auto& [k, v] : r.headers) {
    put_str(out, k);
    put_str(out, v);
  }
  put_str(out, r.secret);
  put_str(out, r.action);
  put_str(out, r.path);
  put_str(out, r.rule);
  put_u64(out, static_cast<uint64_t>(r.created_ms));
  put_u64(out, r.catch_up ? 1 : 0);
  for (const auto* pairs : {&r.fields, &r.settings}) {
    put_u64(out, pairs->size());
    for (const auto& [k, v] : *pairs) {
      put_str(out, k);
      put_str(out, v);
    }
  }
  return out;
}

std::optional<Request> decode_request(std::string_view blob) {
  if (blob.empty() || (blob.front() != kVersion && blob.front() != kVersionWithoutFields &&
                       blob.front() != kVersionWithoutCatchUp)) {
    return std::nullopt;
  }
  const bool has_catch_up = blob.front() != kVersionWithoutCatchUp;
  const bool has_fields = blob.front() == kVersion;
  Reader in(blob.substr(1));
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
