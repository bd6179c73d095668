// check_environment(): what only the machine around a valid config can tell (config.h).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/config.h"

namespace folderhook::agent {
namespace {

namespace fs = std::filesystem;

bool parent_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(fs::path(path).parent_path(), ec);
}

}  // namespace

bool holds_secrets(const Config& config) {
  for (const FolderRule& rule : config.folders) {
    if (!rule.secret.empty()) return true;
    for (const auto& [name, value] : rule.headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower == "authorization") return true;
    }
  }
  return false;
}

std::vector<std::string> check_environment(const Config& config, std::vector<ConfigError>& errors) {
  std::vector<std::string> warnings;
  struct stat st {};
  if (holds_secrets(config) && ::stat(config.file.c_str(), &st) == 0 && (st.st_mode & S_IROTH)) {
    warnings.push_back(
        "the rules file holds a secret or an Authorization header and every user "
        "can read it; chmod o-r it");
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

  // Without creating anything: the state_dir, or the nearest ancestor that exists, must be
  // writable so that `run` can create it.
  fs::path probe(config.state_dir);
  std::error_code ec;
  while (!fs::exists(probe, ec) && probe.has_parent_path() && probe != probe.parent_path()) {
    probe = probe.parent_path();
  }
  if (fs::exists(probe, ec) && !fs::is_directory(probe, ec)) {
    errors.push_back({config.file, 0, 0,
                      "agent.state_dir '" + config.state_dir + "': '" + probe.string() +
                          "' is not a directory"});
  } else if (::access(probe.c_str(), W_OK | X_OK) != 0) {
    errors.push_back({config.file, 0, 0,
                      "agent.state_dir '" + config.state_dir + "' is not writable (" +
                          probe.string() + ": " + std::strerror(errno) + ")"});
  }
  return warnings;
}

}  // namespace folderhook::agent
