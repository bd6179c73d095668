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

TEST_CASE("the agent's delivery keys are accepted in a relay's folder, and bad values refused at their line") {
  std::string messages;
  auto c = load(std::string("[relay]\nsource = \"nats://a:1/S\"\n") + kFolder +
                    "method = \"POST\"\nmax_per_second = 5\nbatch_max = 10\nbatch_wait = \"2s\"\n" +
                    "[[folder]]\npath = \"/t\"\nurls = [\"http://127.0.0.1:9/t\"]\n" +
                    "body_template = \"{{path}}\"\ncontent_type = \"text/plain\"\n",
                messages);
  REQUIRE_MESSAGE(c, messages);
  REQUIRE(c->base.folders.size() == 2);
  CHECK(c->base.folders[0].pacing.max_per_second == 5);
  CHECK(c->base.folders[0].pacing.batch_max == 10);
  CHECK(c->base.folders[0].pacing.batch_wait == std::chrono::seconds(2));
  CHECK(c->base.folders[1].body_template == "{{path}}");
  CHECK(c->base.folders[1].content_type == "text/plain");
  CHECK(c->base.folders[1].method == "POST");

  // The agent's checks, at FILE:LINE:COL.
  for (const auto& [line, says] : std::vector<std::pair<std::string, std::string>>{
           {"max_per_second = -1", "folder.max_per_second must be a number"},
           {"batch_max = 0", "folder.batch_max must be a whole number"},
           {"batch_wait = \"forever\"", "folder.batch_wait"},
           {"body_template = \"{{nope}}\"", "unknown variable {{nope}}"},
           {"content_type = \"no type\"", "folder.content_type"}}) {
    CAPTURE(line);
    messages.clear();
    c = load(std::string("[relay]\nsource = \"nats://a:1/S\"\n") + kFolder +
                 "method = \"POST\"\n" + line + "\n",
             messages);
    CHECK_FALSE(c);
    CHECK(messages.find("relay.toml:8:") != std::string::npos);
    CHECK(messages.find(says) != std::string::npos);
  }
}

TEST_CASE("a relay's folder takes http, https and exec: URLs, and refuses NATS ones") {
  test::TempDir dir;
  const std::string program = dir / "hook.sh";
  test::write_file(program, "#!/bin/sh\n");
  test::shell("chmod 755 " + program);
  std::string messages;
  auto c = load(std::string("[relay]\nsource = \"nats://a:1/S\"\n\n[[folder]]\npath = \"/in\"\n"
                            "urls = [\"exec:") + program + "\", \"https://h.example/x\"]\n",
                messages);
  REQUIRE_MESSAGE(c, messages);
  CHECK(c->base.folders[0].urls.front() == "exec:" + program);
  messages.clear();
  c = load("[relay]\nsource = \"nats://a:1/S\"\n\n[[folder]]\npath = \"/in\"\n"
           "urls = [\"nats://127.0.0.1:4222/s\"]\n",
           messages);
  CHECK_FALSE(c);
  CHECK(messages.find("relay.toml:4:1: folder.urls: a relay delivers over HTTP or exec: only") !=
        std::string::npos);
}

TEST_CASE("a relay's file is told apart from an agent's by its [relay] table") {
  test::TempDir dir;
  test::write_file(dir / "r.toml", std::string("[relay]\nsource = \"nats://a:1/S\"\n") + kFolder);
  test::write_file(dir / "a.toml", kFolder);
  CHECK(relay::is_relay_file(dir / "r.toml"));
  CHECK_FALSE(relay::is_relay_file(dir / "a.toml"));
  CHECK_FALSE(relay::is_relay_file(dir / "missing.toml"));
}
