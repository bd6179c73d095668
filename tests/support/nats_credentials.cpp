#include "tests/support/nats_credentials.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace folderhook::test {
namespace {

using Bytes = std::vector<unsigned char>;

// NKey prefixes (the first base32 letter of an encoded key): S(eed), O(perator), A(ccount), U(ser).
constexpr unsigned char kSeed = 18 << 3;
constexpr unsigned char kOperator = 14 << 3;
constexpr unsigned char kAccount = 0;
constexpr unsigned char kUser = 20 << 3;

uint16_t crc16(const Bytes& data) {  // CRC-16/XMODEM, as NKeys append it
  uint16_t crc = 0;
  for (const unsigned char b : data) {
    crc ^= static_cast<uint16_t>(b) << 8;
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

// Each `width` bits of `data`, most significant first, as a letter of `alphabet` (the last
// letter padded with zero bits); no '=' padding.
std::string encode_bits(const unsigned char* data, size_t size, const char* alphabet, int width) {
  const unsigned mask = (1u << width) - 1;
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= width) {
      out += alphabet[(buffer >> (bits - width)) & mask];
      bits -= width;
    }
  }
  if (bits > 0) out += alphabet[(buffer << (width - bits)) & mask];
  return out;
}

std::string base32(const Bytes& data) {  // RFC 4648 alphabet, no padding
  return encode_bits(data.data(), data.size(), "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 5);
}

std::string base64url(const std::string& data) {  // no padding, as JWTs are
  return encode_bits(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 6);
}

std::string with_crc(Bytes raw) {
  const uint16_t crc = crc16(raw);
  raw.push_back(static_cast<unsigned char>(crc & 0xff));
  raw.push_back(static_cast<unsigned char>(crc >> 8));
  return base32(raw);
}

struct NKey {
  Bytes seed = Bytes(32);
  Bytes public_key = Bytes(32);
  unsigned char prefix = 0;

  std::string encoded_public() const {
    Bytes raw{prefix};
    raw.insert(raw.end(), public_key.begin(), public_key.end());
    return with_crc(raw);
  }
  std::string encoded_seed() const {
    Bytes raw{static_cast<unsigned char>(kSeed | (prefix >> 5)), static_cast<unsigned char>((prefix & 31) << 3)};
    raw.insert(raw.end(), seed.begin(), seed.end());
    return with_crc(raw);
  }
  std::string sign(const std::string& message) const {
    EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::string signature(64, '\0');
    size_t length = signature.size();
    const bool ok = key != nullptr && ctx != nullptr &&
                    EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
                    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                                   reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok ? signature : "";
  }
};

bool make_key(unsigned char prefix, NKey& key) {
  key.prefix = prefix;
  if (RAND_bytes(key.seed.data(), static_cast<int>(key.seed.size())) != 1) return false;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed.data(), key.seed.size());
  size_t length = key.public_key.size();
  const bool ok = pkey != nullptr && EVP_PKEY_get_raw_public_key(pkey, key.public_key.data(), &length) == 1;
  EVP_PKEY_free(pkey);
  return ok;
}

// A JWT of `claims` about `subject`, issued and signed by `issuer`.
std::string jwt(const NKey& issuer, const NKey& subject, const std::string& name, nlohmann::json nats) {
  const nlohmann::json claims = {{"jti", base32(subject.seed).substr(0, 52)},
                                 {"iat", static_cast<int64_t>(std::time(nullptr))},
                                 {"iss", issuer.encoded_public()},
                                 {"name", name},
                                 {"sub", subject.encoded_public()},
                                 {"nats", std::move(nats)}};
  const std::string signed_part = base64url(R"({"typ":"JWT","alg":"ed25519-nkey"})") + "." +
                                  base64url(claims.dump());
  return signed_part + "." + base64url(issuer.sign(signed_part));
}

}  // namespace

NatsCredentials make_nats_credentials(const std::string& dir) {
  NatsCredentials out;
  NKey op, system, account, user;
  if (!make_key(kOperator, op) || !make_key(kAccount, system) || !make_key(kAccount, account) ||
      !make_key(kUser, user)) {
    return out;
  }
  const std::string operator_jwt = jwt(op, op, "test-operator", {{"type", "operator"}, {"version", 2}});
  const nlohmann::json limits = {{"subs", -1}, {"data", -1}, {"payload", -1}, {"imports", -1},
                                 {"exports", -1}, {"wildcards", true}, {"conn", -1}, {"leaf", -1},
                                 {"mem_storage", -1}, {"disk_storage", -1}, {"streams", -1},
                                 {"consumer", -1}};
  // JetStream needs the server's system account, which operator mode takes from a JWT too.
  const std::string system_jwt = jwt(op, system, "SYS", {{"type", "account"}, {"version", 2}});
  const std::string account_jwt =
      jwt(op, account, "test-account", {{"limits", limits}, {"type", "account"}, {"version", 2}});
  const std::string user_jwt = jwt(account, user, "test-user",
                                   {{"subs", -1}, {"data", -1}, {"payload", -1}, {"type", "user"},
                                    {"version", 2}});
  out.server_config = "operator: \"" + operator_jwt + "\"\nsystem_account: " +
                      system.encoded_public() + "\nresolver: MEMORY\nresolver_preload: {\n  " +
                      system.encoded_public() + ": \"" + system_jwt + "\"\n  " +
                      account.encoded_public() + ": \"" + account_jwt + "\"\n}\n";
  out.user_seed = user.encoded_seed();
  out.creds_file = dir + "/user.creds";
  std::ofstream(out.creds_file) << "-----BEGIN NATS USER JWT-----\n" << user_jwt
                                << "\n------END NATS USER JWT------\n\n"
                                << "-----BEGIN USER NKEY SEED-----\n" << out.user_seed
                                << "\n------END USER NKEY SEED------\n";
  return out;
}

}  // namespace folderhook::test
