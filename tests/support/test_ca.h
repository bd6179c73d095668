// TestCa: a private certificate authority and a server certificate it signed for 127.0.0.1 and
// localhost, made with the openssl command in a temporary directory, for tests of verified TLS
// (HTTPS receivers, tls:// NATS servers).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace folderhook::test {

struct TestCa {
  TempDir dir;
  std::string ca = dir / "ca.pem";
  std::string cert = dir / "server.pem";
  std::string key = dir / "server.key";
  TestCa() {
    const std::string d = dir.path();
    REQUIRE(shell("cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
                  "-days 2 -subj /CN=folderhook-test-ca 2>/dev/null && "
                  "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
                  "-subj /CN=127.0.0.1 2>/dev/null && "
                  "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
                  "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                  "-out server.pem -days 2 -extfile san.ext 2>/dev/null") == 0);
  }
};

}  // namespace folderhook::test
