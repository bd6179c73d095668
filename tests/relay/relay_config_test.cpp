// relay/relay_config.h: [relay] on top of rules.toml's schema, its defaults and its errors.
#include "relay/relay_config.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace folderhook;

namespace {

std::optional<relay::RelayConfig> load(const std::string& text, std::string& messages) {
  test::TempDir dir;
  const std::string file = dir / "relay.toml";
  test::write_file(file, text);
  std::vector<agent::ConfigError> errors;
  auto config = relay::load_relay_config(file, errors);
  for (const auto& e : errors) messages += e.to_string() + "\n";
  return config;
}

constexpr const char* kFolder = "\n[[folder]]\npath = \"/in\"\nurls = [\"http://127.0.0.1:9/h\"]\n";

}  // namespace

TEST_CASE("[relay] defaults: consumer folderhook-relay, dead letters in <STREAM>_DEAD") {
  std::string messages;
  const auto c = load(std::string("[relay]\nsource = \"nats://a:1,b:2/FILES\"\n") + kFolder, messages);
  REQUIRE_MESSAGE(c, messages);
  CHECK(c->relay.stream == "FILES");
  CHECK(c->relay.url.servers == std::vector<std::string>{"nats://a:1", "nats://b:2"});
  CHECK(c->relay.consumer == "folderhook-relay");
  CHECK(c->relay.dead_stream == "FILES_DEAD");
  CHECK(c->relay.dead_subject == "folderhook.dead.FILES");
  CHECK(c->relay.batch == 16);
  // Every URL of the list timing out, twice, with a floor of 30 s.
  CHECK(relay::ack_wait_for(*c) == std::chrono::seconds(30));
}

TEST_CASE("[relay] keys are read and checked") {
  std::string messages;
  auto c = load(std::string("[relay]\nsource = \"nats://a:1/S\"\nconsumer = \"c1\"\nbatch = 4\n"
                            "ack_wait = \"2m\"\ndead_stream = \"D\"\ndead_subject = \"dead.s\"\n") +
                    kFolder,
                messages);
  REQUIRE_MESSAGE(c, messages);
  CHECK(c->relay.batch == 4);
  CHECK(relay::ack_wait_for(*c) == std::chrono::minutes(2));
  CHECK(c->relay.dead_subject == "dead.s");

  messages.clear();
  c = load(std::string("[relay]\nconsumer = \"a.b\"\nbatch = 0\ndead_stream = \"S\"\n") + kFolder,
           messages);
  CHECK_FALSE(c);
  CHECK(messages.find("[relay] needs source") != std::string::npos);
  CHECK(messages.find("relay.consumer 'a.b' is not a consumer name") != std::string::npos);
  CHECK(messages.find("relay.batch must be an integer from 1 to 256") != std::string::npos);

  messages.clear();
  CHECK_FALSE(load(kFolder, messages));
  CHECK(messages.find("needs a [relay] table") != std::string::npos);
}

TEST_CASE("delivery keys the relay does not apply are refused at their line, not ignored") {
  for (const char* line : {"max_per_second = 5", "batch_max = 10", "batch_wait = \"2s\"",
                           "body_template = \"{{path}}\"", "content_type = \"text/plain\""}) {
    CAPTURE(line);
    std::string messages;
    const auto c = load(std::string("[relay]\nsource = \"nats://a:1/S\"\n") + kFolder +
                            "method = \"POST\"\n" + line + "\n",
                        messages);
    CHECK_FALSE(c);
    const std::string key = std::string(line).substr(0, std::string(line).find(' '));
    CHECK(messages.find("relay.toml:8:") != std::string::npos);
    CHECK(messages.find("folder." + key + " is not supported by the relay yet") != std::string::npos);
  }
}

TEST_CASE("a relay's file is told apart from an agent's by its [relay] table") {
  test::TempDir dir;
  test::write_file(dir / "r.toml", std::string("[relay]\nsource = \"nats://a:1/S\"\n") + kFolder);
  test::write_file(dir / "a.toml", kFolder);
  CHECK(relay::is_relay_file(dir / "r.toml"));
  CHECK_FALSE(relay::is_relay_file(dir / "a.toml"));
  CHECK_FALSE(relay::is_relay_file(dir / "missing.toml"));
}
