// body_template and content_type through the real binary: what a chat system's incoming
// webhook or a receiver with a fixed format gets, signed over the bytes it gets.
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"
#include "tests/support/verifier.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using nlohmann::json;

namespace {

constexpr const char* kTemplateSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string verify_rendered(const Webhook& hook, const TempDir& dir) {
  return standardwebhooks_verdict(hook, kTemplateSecret, "post", dir);
}

}  // namespace

TEST_CASE("a Slack-like template arrives as valid JSON with the exact odd name, signed as sent") {
  RunningAgent r(rules_template(
      "", "body_template = '{\"text\": \"{{username}} {{action}} {{path}}\"}'\n"
          "content_type = \"application/json; charset=utf-8\"\n"
          "secret = \"" + std::string(kTemplateSecret) + "\"\n"));
  const std::string odd = r.in + "/say \"hi\"\\\nnext line.txt";
  write_file(odd, "x");
  const Webhook hook = r.nth(1);
  CHECK(hook.method == "POST");
  CHECK(hook.raw_query.empty());
  CHECK(hook.header("content-type") == "application/json; charset=utf-8");
  INFO("body: " << hook.body);
  const json body = json::parse(hook.body);  // throws (fails) unless it is valid JSON
  CHECK(body.size() == 1);
  CHECK(body["text"] == "root create " + odd);
  CHECK(verify_rendered(hook, r.dir) == "verified\n");
  Webhook tampered = hook;
  tampered.body.replace(tampered.body.find("create"), 6, "update");
  CHECK(verify_rendered(tampered, r.dir).rfind("refused", 0) == 0);
}

TEST_CASE("{{id}} is the webhook-id, the same in the body after a failed attempt and a restart") {
  RunningAgent r(rules_template("retry = [\"2s\"]\n",
                                "body_template = '''{\"id\": \"{{id}}\", \"size\": \"{{size}}\", "
                                "\"raw\": \"{{path_base64}}\", \"path\": \"{{path}}\"}'''\n"),
                 /*start_now=*/false);
  r.receiver.set_status(500);
  r.start();
  const std::string latin1 = r.in + "/caf\xE9.txt";  // not UTF-8
  write_file(latin1, "12345");
  const Webhook first = r.nth(1);
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"retry\""));
  REQUIRE(r.agent->stop(SIGTERM) == 0);

  r.receiver.set_status(200);
  r.start();  // the pending delivery is sent again when its retry is due, as stored
  const Webhook second = r.nth(2);
  INFO("body: " << first.body);
  const json body = json::parse(first.body);
  CHECK(body["id"] == first.header("webhook-id"));
  CHECK(body["id"].get<std::string>().rfind("msg_", 0) == 0);
  CHECK(body["size"] == "5");
  CHECK(body["path"] == r.in + "/caf\xEF\xBF\xBD.txt");
  REQUIRE(shell("printf %s '" + body["raw"].get<std::string>() + "' | base64 -d > " +
                r.dir / "raw") == 0);
  CHECK(read_file(r.dir / "raw") == latin1);
  CHECK(second.header("webhook-id") == first.header("webhook-id"));
  CHECK(second.body == first.body);
  CHECK(second.header("content-type") == "application/json");
}

TEST_CASE("a form template is percent-encoded, and test-hook sends the template as rendered") {
  RunningAgent r(rules_template("", "body_template = \"file={{path}}&by={{username}}\"\n"
                                    "content_type = \"application/x-www-form-urlencoded\"\n"),
                 /*start_now=*/false);
  std::string out;
  REQUIRE(run_folderhook({"test-hook", "--config", r.dir / "rules.toml", r.in}, out) == 0);
  REQUIRE(r.receiver.wait_for(1));
  const Webhook hook = r.receiver.received()[0];
  CHECK(hook.header("content-type") == "application/x-www-form-urlencoded");
  const std::string path = r.in + "/folderhook-test-hook.txt";
  std::string encoded;
  for (const char c : path) encoded += c == '/' ? std::string("%2F") : std::string(1, c);
  CHECK(hook.body == "file=" + encoded + "&by=folderhook");
}
