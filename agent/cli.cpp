#include "agent/cli.h"

#include <filesystem>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "agent/commands.h"
#include "agent/nats_stream_command.h"
#include "agent/config.h"
#include "agent/listen.h"
#include "agent/log.h"

namespace folderhook::agent {
namespace {

constexpr int kConfigError = 2;

// Loads and checks the rules file; prints every problem as FILE:LINE:COL: message, each on one
// line whatever the paths in it hold (one_terminal_line).
std::optional<Config> load_checked(const std::string& file, std::vector<std::string>& warnings) {
  std::vector<ConfigError> errors;
  std::optional<Config> config = load_config(file, errors);
  if (config) warnings = check_environment(*config, errors);
  for (const ConfigError& e : errors) std::cerr << one_terminal_line(e.to_string()) << "\n";
  if (!errors.empty()) return std::nullopt;
  return config;
}

int check_command(const std::string& file) {
  std::vector<std::string> warnings;
  const std::optional<Config> config = load_checked(file, warnings);
  if (!config) return kConfigError;
  for (const std::string& w : warnings) {
    std::cerr << one_terminal_line(file + ": warning: " + w) << "\n";
  }
  size_t urls = 0;
  for (const FolderRule& rule : config->folders) urls += rule.urls.size();
  std::cout << one_terminal_line(file) << ": ok, " << config->folders.size() << " folder(s), "
            << urls << " url(s), state in " << one_terminal_line(config->state_dir) << "\n";
  return 0;
}

int run_command(const std::string& file) {
  std::vector<std::string> warnings;
  const std::optional<Config> config = load_checked(file, warnings);
  if (!config) return kConfigError;
  Log log;
  log.set_text(config->log_format == "text");
  std::string error;
  if (!log.open(config->log_file, error)) {
    std::cerr << one_terminal_line(file + ": " + error) << "\n";
    return kConfigError;
  }
  for (const std::string& w : warnings) log.write("warn", w);
  return run_agent(std::move(*config), log);
}

}  // namespace

int parse_and_run(CLI::App& app, int argc, char** argv, const std::function<int()>& command) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kConfigError;
  }
  try {
    return command();
  } catch (const std::exception& e) {
    // Last line of defence: a bug must end as one clear line, never a stack trace.
    std::cerr << "folderhook: internal error: " << e.what() << "\n";
    return 1;
  }
}

int main_cli(int argc, char** argv) {
  CLI::App app{"folderhook: turns what happens in a storage folder into webhooks"};
  app.set_version_flag("--version", "folderhook " FOLDERHOOK_VERSION);
  app.require_subcommand(1);

  std::string config_file;
  auto* run = app.add_subcommand("run", "Watch the folders in the rules file and deliver webhooks");
  run->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();

  auto* check = app.add_subcommand("check", "Validate the rules file and exit (0 = valid, 2 = not)");
  check->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();

  bool json = false;
  auto* status = app.add_subcommand("status", "Show pending deliveries, dead letters, URLs and behaviors (also while the agent runs)");
  status->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();
  status->add_flag("--json", json, "Print the status as JSON");

  std::string since, id;
  auto* replay = app.add_subcommand("replay", "Put dead letters back into the outbox");
  replay->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();
  replay->add_option("--since", since, "Only those that died at or after this UTC time (2026-11-26T10:00:00Z)");
  replay->add_option("--id", id, "Only the dead letter with this id (exit 1 if there is none)");
  bool stored = false;
  replay->add_flag("--stored", stored,
                   "Send to the stored URLs, method, headers and secret, not the current rules'");

  auto* dead_letters = app.add_subcommand("dead-letters", "List the dead letters: id, action, path, URL, last status and error, when it died");
  dead_letters->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();
  dead_letters->add_flag("--json", json, "One JSON object per line");

  std::string folder;
  auto* test_hook = app.add_subcommand("test-hook", "Send a test webhook (test=1) to every URL of a folder; exit 0 if any accepted it");
  test_hook->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();
  test_hook->add_option("folder", folder, "The folder's path as rules.toml gives it")->required();

  bool dry_run = false;
  auto* behaviors = app.add_subcommand("behaviors", "List what the folder behaviors would do now");
  behaviors->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();
  behaviors->add_flag("--dry-run", dry_run, "Only list (required: the running agent performs behaviors)")->required();

  NatsStreamArgs stream;
  auto* nats_stream = app.add_subcommand(
      "nats-stream", "Create (or update) the JetStream stream a folder's NATS URLs publish into");
  nats_stream->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();
  nats_stream->add_option("folder", stream.folder, "The folder's path as rules.toml gives it")
      ->required();
  nats_stream->add_option("--name", stream.name, "The stream's name")->required();
  nats_stream->add_option("--replicas", stream.replicas, "Copies of each message (1, 3 or 5 in a cluster)")
      ->capture_default_str();
  nats_stream->add_flag("--memory", stream.memory, "Keep messages in memory instead of files");
  nats_stream->add_option("--duplicate-window", stream.duplicate_window,
                          "How long a Nats-Msg-Id is remembered to drop a re-sent message")
      ->capture_default_str();
  nats_stream->add_option("--max-age", stream.max_age, "Remove messages older than this (default: keep)");

  // Listed for --help only: agent/main.cpp hands `relay` to relay/ before this parser runs.
  app.add_subcommand("relay", "Deliver a JetStream stream's messages as webhooks (folderhook relay --help)")
      ->allow_extras();

  std::string host = "127.0.0.1";
  int port = 8787;
  auto* listen = app.add_subcommand("listen", "Receive webhooks and print each one (answers 200)");
  listen->add_option("-p,--port", port, "Port to listen on (0 = any free port)")->check(CLI::Range(0, 65535))
      ->capture_default_str();
  listen->add_option("--host", host, "Address to listen on")->capture_default_str();

  return parse_and_run(app, argc, argv, [&] {
    if (*run) return run_command(config_file);
    if (*check) return check_command(config_file);
    if (*listen) return run_listen(host, port);
    std::vector<std::string> warnings;
    const std::optional<Config> config = load_checked(config_file, warnings);
    if (!config) return kConfigError;
    if (*status) return status_command(*config, json);
    if (*replay) return replay_command(*config, since, id, stored);
    if (*dead_letters) return dead_letters_command(*config, json);
    if (*test_hook) {
      std::error_code ec;
      const auto absolute = std::filesystem::absolute(folder, ec).lexically_normal().string();
      return test_hook_command(*config, ec ? folder : absolute);
    }
    if (*behaviors) return behaviors_dry_run_command(*config);
    if (*nats_stream) {
      std::error_code ec;
      const auto absolute = std::filesystem::absolute(stream.folder, ec).lexically_normal().string();
      if (!ec) stream.folder = absolute;
      return nats_stream_command(*config, stream);
    }
    return kConfigError;
  });
}

}  // namespace folderhook::agent
