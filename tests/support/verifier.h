// The independent verifier: the standardwebhooks npm package (tests/integration/verifier,
// installed by ./dev with npm ci) judging one webhook as the receiver got it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/receiver.h"
#include "tests/support/temp_dir.h"

namespace folderhook::test {

// "verified\n", or "refused: ..." with the package's reason. `form` is "post" (the body is
// signed) or "get" (the query string is). Writes its case and verdict files into `dir`.
inline std::string standardwebhooks_verdict(const Webhook& hook, const std::string& secret,
                                            const std::string& form, const TempDir& dir) {
  const nlohmann::json c = {{"secret", secret},
                            {"form", form},
                            {"payload", form == "post" ? hook.body : hook.raw_query},
                            {"headers",
                             {{"webhook-id", hook.header("webhook-id")},
                              {"webhook-timestamp", hook.header("webhook-timestamp")},
                              {"webhook-signature", hook.header("webhook-signature")}}}};
  write_file(dir / "case.json", c.dump());
  shell(std::string("cd ") + VERIFIER_DIR + " && node verify.js " + dir / "case.json" + " > " +
        dir / "verdict 2>&1");
  return read_file(dir / "verdict");
}

}  // namespace folderhook::test
