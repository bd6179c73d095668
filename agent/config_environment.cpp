// check_environment(): what only the machine around a valid config can tell (config.h).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/config.h"
#include "delivery/state_dir.h"
#include "delivery/url.h"

namespace folderhook::agent {
namespace {

namespace fs = std::filesystem;

bool parent_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(fs::path(path).parent_path(), ec);
}

}  // namespace

// A folder's or [accounts]' secret, NATS token, password in a URL or Authorization header.
static bool rule_holds_secrets(const FolderRule& rule) {
  if (!rule.secret.empty()) return true;
  for (const auto& [name, value] : rule.nats_settings) {
    if (name == "nats_token") return true;
  }
  for (const std::string& url : rule.urls) {
    if (delivery::mask_url(url) != url) return true;
  }
  for (const auto& [name, value] : rule.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "authorization") return true;
  }
  return false;
}

bool holds_secrets(const Config& config) {
  if (config.accounts && rule_holds_secrets(*config.accounts)) return true;
  return std::any_of(config.folders.begin(), config.folders.end(), rule_holds_secrets);
}

std::vector<std::string> check_environment(const Config& config, std::vector<ConfigError>& errors) {
  std::vector<std::string> warnings;
  struct stat st {};
  if (holds_secrets(config) && ::stat(config.file.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
    warnings.push_back(
        "the rules file holds a secret, an Authorization header or a URL with a password "
        "or token, and every user can read it; chmod o-r it");
  }
  for (const FolderRule& rule : config.folders) {
    std::error_code ec;
    const auto status = fs::status(rule.path, ec);
    if (fs::is_directory(status)) continue;
    if (fs::exists(status)) {
      errors.push_back({config.file, rule.line, rule.column,
                        "folder path '" + rule.path + "' is not a directory"});
    } else if (parent_exists(rule.path)) {
      warnings.push_back("folder path '" + rule.path +
                         "' does not exist yet; it will be watched when it appears");
    } else {
      errors.push_back(
          {config.file, rule.line, rule.column, "folder path '" + rule.path + "' does not exist"});
    }
  }

  bool https = false;
  for (const FolderRule& rule : config.folders) {
    for (const std::string& url : rule.urls) https = https || url.rfind("https://", 0) == 0;
  }
  if (https && ::access(config.delivery.ca_file.c_str(), R_OK) != 0) {
    errors.push_back({config.file, 0, 0,
                      "delivery.ca_file '" + config.delivery.ca_file + "' cannot be read (" +
                          std::strerror(errno) + "); HTTPS receivers could not be verified"});
  }

  if (const std::string problem = delivery::state_dir_problem(config.state_dir);
      !problem.empty()) {
    errors.push_back({config.file, config.state_dir_line, config.state_dir_column,
                      "agent.state_dir '" + config.state_dir + "' " + problem});
  }
  return warnings;
}

}  // namespace folderhook::agent
