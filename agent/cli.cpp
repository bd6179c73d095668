#include "agent/cli.h"

#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/listen.h"
#include "agent/log.h"

namespace folderhook::agent {
namespace {

constexpr int kConfigError = 2;

// Loads and checks the rules file; prints every problem as FILE:LINE:COL: message.
std::optional<Config> load_checked(const std::string& file, std::vector<std::string>& warnings) {
  std::vector<ConfigError> errors;
  std::optional<Config> config = load_config(file, errors);
  if (config) warnings = check_environment(*config, errors);
  for (const ConfigError& e : errors) std::cerr << e.to_string() << "\n";
  if (!errors.empty()) return std::nullopt;
  return config;
}

int check_command(const std::string& file) {
  std::vector<std::string> warnings;
  const std::optional<Config> config = load_checked(file, warnings);
  if (!config) return kConfigError;
  for (const std::string& w : warnings) std::cerr << file << ": warning: " << w << "\n";
  size_t urls = 0;
  for (const FolderRule& rule : config->folders) urls += rule.urls.size();
  std::cout << file << ": ok, " << config->folders.size() << " folder(s), " << urls
            << " url(s), state in " << config->state_dir << "\n";
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
    std::cerr << file << ": " << error << "\n";
    return kConfigError;
  }
  for (const std::string& w : warnings) log.write("warn", w);
  return run_agent(std::move(*config), log);
}

}  // namespace

int main_cli(int argc, char** argv) {
  CLI::App app{"folderhook: turns what happens in a storage folder into webhooks"};
  app.set_version_flag("--version", "folderhook " FOLDERHOOK_VERSION);
  app.require_subcommand(1);

  std::string config_file;
  auto* run = app.add_subcommand("run", "Watch the folders in the rules file and deliver webhooks");
  run->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();

  auto* check = app.add_subcommand("check", "Validate the rules file and exit (0 = valid, 2 = not)");
  check->add_option("-c,--config", config_file, "The rules file (rules.toml)")->required();

  std::string host = "127.0.0.1";
  int port = 8787;
  auto* listen = app.add_subcommand("listen", "Receive webhooks and print each one (answers 200)");
  listen->add_option("-p,--port", port, "Port to listen on (0 = any free port)")->check(CLI::Range(0, 65535))
      ->capture_default_str();
  listen->add_option("--host", host, "Address to listen on")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kConfigError;
  }
  try {
    if (*run) return run_command(config_file);
    if (*check) return check_command(config_file);
    if (*listen) return run_listen(host, port);
  } catch (const std::exception& e) {
    // Last line of defence: a bug must end as one clear line, never a stack trace.
    std::cerr << "folderhook: internal error: " << e.what() << "\n";
    return 1;
  }
  return kConfigError;
}

}  // namespace folderhook::agent
