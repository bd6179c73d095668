#include "delivery/exec/exec_url.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace folderhook::delivery {

bool is_exec_url(std::string_view url) {
  constexpr std::string_view kScheme = "exec:";
  if (url.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = url[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return false;
  }
  return true;
}

std::optional<std::string> parse_exec_url(std::string_view url, std::string& error) {
  if (!is_exec_url(url)) {
    error = "not an exec: URL";
    return std::nullopt;
  }
  const std::string_view path = url.substr(5);
  if (path.empty()) {
    error = "exec: needs the program's absolute path (exec:/usr/local/bin/on-upload)";
    return std::nullopt;
  }
  if (path.front() != '/') {
    error =
        "the program '" + std::string(path) +
        "' is not an absolute path (write exec:/full/path/to/program; no shell, no PATH search)";
    return std::nullopt;
  }
  if (path.starts_with("//")) {
    const auto rest = path.find_first_not_of('/');
    error = "exec: takes a path, not a host: write exec:/" +
            std::string(rest == std::string_view::npos ? "" : path.substr(rest)) + " (one slash)";
    return std::nullopt;
  }
  if (path.find('\0') != std::string_view::npos) {
    error = "the program's path holds a NUL byte";
    return std::nullopt;
  }
  if (path.back() == '/') {
    error = "the program '" + std::string(path) + "' names a directory";
    return std::nullopt;
  }
  return std::string(path);
}

bool check_exec_program(const std::string& program, std::string& error) {
  struct stat st {};
  if (::stat(program.c_str(), &st) != 0) {
    error = "the program '" + program + "' cannot be found: " + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "the program '" + program + "' is a directory";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "the program '" + program + "' is not a regular file";
    return false;
  }
  // access() answers for the real uid, the agent's; root needs an execute bit too.
  if (::access(program.c_str(), X_OK) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = "the program '" + program + "' is not executable (mode " + mode + ")";
    return false;
  }
  return true;
}

std::vector<std::string> exec_environment(const Request& request) {
  std::vector<std::string> env;
  env.push_back("PATH=" + std::string(kExecPath));
  env.push_back("FOLDERHOOK_ID=" + request.id);
  for (const auto& [name, value] : request.fields) {
    std::string var = "FOLDERHOOK_";
    for (const char c : name) {
      if (c >= 'a' && c <= 'z') {
        var.push_back(static_cast<char>(c - 'a' + 'A'));
      } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
        var.push_back(c);
      } else {
        var.push_back('_');
      }
    }
    var.push_back('=');
    var += value.substr(0, value.find('\0'));
    env.push_back(std::move(var));
  }
  return env;
}

std::string exec_stderr_line(std::string_view bytes) {
  std::string line;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      if (!line.empty() && line.back() != ' ') line.push_back(' ');
    } else if (c == ' ') {
      if (!line.empty() && line.back() != ' ') line.push_back(' ');
    } else {
      line.push_back(c);
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  // Bytes that are not UTF-8 (and a character cut at the 2 KB limit) become U+FFFD; the
  // replacing dumper never throws.
  const std::string quoted =
      nlohmann::json(line).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace folderhook::delivery
