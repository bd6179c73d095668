#include "relay/relay_cli.h"

#include <ctime>
#include <iostream>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

#include "agent/cli.h"
#include "agent/log.h"
#include "delivery/retry.h"
#include "delivery/url.h"
#include "relay/dead_letters.h"
#include "relay/relay.h"
#include "relay/relay_config.h"
#include "relay/relay_status.h"
#include "relay/stream_consumer.h"

namespace folderhook::relay {
namespace {

constexpr int kConfigError = 2;

std::optional<RelayConfig> load_checked(const std::string& file) {
  std::vector<agent::ConfigError> errors;
  std::optional<RelayConfig> config = load_relay_config(file, errors);
  for (const agent::ConfigError& e : errors) std::cerr << e.to_string() << "\n";
  if (!errors.empty()) return std::nullopt;
  return config;
}

int check_command(const RelayConfig& config) {
  size_t urls = 0;
  for (const agent::FolderRule& rule : config.base.folders) urls += rule.urls.size();
  std::cout << config.base.file << ": ok, relay of stream " << config.relay.stream
            << " (consumer " << config.relay.consumer << ", dead letters in "
            << config.relay.dead_stream << "), " << config.base.folders.size() << " folder(s), "
            << urls << " url(s)\n";
  return 0;
}

int run_command(const RelayConfig& config) {
  block_stop_signals();
  agent::Log log;
  log.set_text(config.base.log_format == "text");
  std::string error;
  if (!log.open(config.base.log_file, error)) {
    std::cerr << config.base.file << ": " << error << "\n";
    return kConfigError;
  }
  return run_relay(config, log);
}

std::unique_ptr<StreamConsumer> connect_or_say(const RelayConfig& config) {
  std::string error;
  auto consumer = StreamConsumer::connect(config, error);
  if (!consumer) {
    std::cerr << config.base.file << ": " << delivery::mask_url(config.relay.source) << ": "
              << error << "\n";
  }
  return consumer;
}

int status_command(const RelayConfig& config, bool json) {
  auto consumer = connect_or_say(config);
  if (!consumer) return 1;
  std::string error;
  nlohmann::json status = relay_status_json(*consumer, error);
  if (!error.empty()) {
    std::cerr << config.base.file << ": " << error << "\n";
    return 1;
  }
  if (json) {
    std::cout << status.dump(2) << "\n";
    return 0;
  }
  std::cout << "relay of stream " << status["stream"].get<std::string>() << ", consumer "
            << status["consumer"].get<std::string>() << "\n"
            << "pending:        " << status["pending"] << " (" << status["consumer_pending"]
            << " not yet handed out, " << status["ack_pending"]
            << " in flight or awaiting a retry)\n"
            << "redelivered:    " << status["redelivered"] << "\n"
            << "dead letters:   " << status["dead_letters"] << " (stream "
            << status["dead_stream"].get<std::string>() << ")\n";
  return 0;
}

int dead_letters_command(const RelayConfig& config, bool json) {
  auto consumer = connect_or_say(config);
  if (!consumer) return 1;
  std::string error;
  const auto rows = list_relay_dead_letters(*consumer, error);
  if (!rows) {
    std::cerr << config.base.file << ": " << error << "\n";
    return 1;
  }
  for (const RelayDeadLetter& d : *rows) {
    const std::string died = delivery::format_iso_utc(d.info.died_ms);
    if (json) {
      std::cout << nlohmann::json{{"id", d.info.id},
                                  {"dead_seq", d.seq},
                                  {"stream_seq", d.info.stream_seq},
                                  {"subject", d.info.subject},
                                  {"action", d.action},
                                  {"path", d.path},
                                  {"url", d.info.url},
                                  {"attempts", d.info.attempts},
                                  {"last_status", d.info.last_status},
                                  {"last_error", d.info.last_error},
                                  {"died_at", died}}
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    } else {
      std::cout << d.info.id << " " << d.action << " " << agent::display_value(d.path) << " "
                << d.info.url << " status " << d.info.last_status << " " << d.info.last_error
                << " died " << died << "\n";
    }
  }
  return 0;
}

int replay_command(const RelayConfig& config, const std::string& since, const std::string& id) {
  std::optional<int64_t> since_ms;
  if (!since.empty()) {
    since_ms = delivery::parse_iso_utc(since);
    if (!since_ms) {
      std::cerr << "folderhook replay: --since must be a UTC time such as 2026-11-26T10:00:00Z "
                   "(got '" << since << "')\n";
      return kConfigError;
    }
  }
  auto consumer = connect_or_say(config);
  if (!consumer) return 1;
  std::string error;
  const int moved = replay_relay_dead_letters(
      *consumer, since_ms, id.empty() ? std::nullopt : std::optional<std::string>(id), error);
  if (moved < 0) {
    std::cerr << config.base.file << ": " << error << "\n";
    return 1;
  }
  std::cout << "replayed " << moved << " dead letter(s) into stream " << config.relay.stream
            << "\n";
  if (!id.empty() && moved == 0) return 1;
  return 0;
}

}  // namespace

bool relay_cli_handles(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string_view command = argv[1];
  if (command == "relay") return true;
  if (command != "check" && command != "status" && command != "replay" &&
      command != "dead-letters")
    return false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "-c" || arg == "--config") && i + 1 < argc) return is_relay_file(argv[i + 1]);
    if (arg.rfind("--config=", 0) == 0) return is_relay_file(std::string(arg.substr(9)));
  }
  return false;
}

int relay_main_cli(int argc, char** argv) {
  CLI::App app{"folderhook relay: delivers webhooks from a JetStream stream"};
  app.set_version_flag("--version", "folderhook " FOLDERHOOK_VERSION);
  app.require_subcommand(1);
  std::string config_file;
  bool json = false;
  std::string since, id;

  auto* relay = app.add_subcommand(
      "relay", "Deliver the stream's messages as webhooks, sharing a durable consumer");
  relay->add_option("-c,--config", config_file, "The relay's file ([relay], [[folder]], ...)")
      ->required();
  auto* check = app.add_subcommand("check", "Validate the relay's file and exit (0 = valid, 2 = not)");
  check->add_option("-c,--config", config_file, "The relay's file")->required();
  auto* status = app.add_subcommand("status", "Show the consumer's pending and redelivered counts and the dead letters");
  status->add_option("-c,--config", config_file, "The relay's file")->required();
  status->add_flag("--json", json, "Print the status as JSON");
  auto* replay = app.add_subcommand("replay", "Put the relay's dead letters back into the stream");
  replay->add_option("-c,--config", config_file, "The relay's file")->required();
  replay->add_option("--since", since, "Only those that died at or after this UTC time (2026-11-26T10:00:00Z)");
  replay->add_option("--id", id, "Only the dead letter with this webhook-id (exit 1 if there is none)");
  auto* dead_letters = app.add_subcommand("dead-letters", "List the relay's dead letters");
  dead_letters->add_option("-c,--config", config_file, "The relay's file")->required();
  dead_letters->add_flag("--json", json, "One JSON object per line");

  return agent::parse_and_run(app, argc, argv, [&] {
    const std::optional<RelayConfig> config = load_checked(config_file);
    if (!config) return kConfigError;
    if (*relay) return run_command(*config);
    if (*check) return check_command(*config);
    if (*status) return status_command(*config, json);
    if (*replay) return replay_command(*config, since, id);
    if (*dead_letters) return dead_letters_command(*config, json);
    return kConfigError;
  });
}

}  // namespace folderhook::relay
