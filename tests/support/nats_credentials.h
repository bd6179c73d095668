// NATS decentralized authentication for tests, made without the `nsc` tool (not packaged): an
// operator, an account with JetStream enabled and a user, each an NKey (Ed25519, through
// OpenSSL), the operator's and account's JWTs for the server's config, and the user's .creds
// file (JWT and seed) as nsc writes it.
#pragma once

#include <string>

namespace folderhook::test {

struct NatsCredentials {
  // Lines for a nats-server config: the operator, a memory resolver preloaded with the account.
  std::string server_config;
  // The user's .creds file, written into the directory given to make_nats_credentials.
  std::string creds_file;
  std::string user_seed;  // the secret in it ("SU..."), to check it is never logged
};

// Writes `dir`/user.creds; an empty creds_file when OpenSSL cannot make the keys.
NatsCredentials make_nats_credentials(const std::string& dir);

}  // namespace folderhook::test
