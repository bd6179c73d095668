#include "agent/config.h"
#include "delivery/retry.h"
#include "tests/agent/config_errors.h"

#include <doctest/doctest.h>

using namespace folderhook::agent;
using namespace std::chrono_literals;

namespace {

using folderhook::agent::testing::folder_with;
using folderhook::agent::testing::one_error;
using folderhook::agent::testing::says;
// Parses `text` as "rules.toml" relative to /base; returns the errors as FILE:LINE:COL lines.
std::vector<std::string> errors_of(const std::string& text) {
  return folderhook::agent::testing::config_errors(text);
}

const char* kMinimal = R"(
[agent]
state_dir = "./.folderhook"

[[folder]]
path = "./demo"
urls = ["http://127.0.0.1:8787/hook"]
interface = "sftp"
)";

}  // namespace

TEST_CASE("the minimal rules file gives one folder with defaults for the rest") {
  std::vector<ConfigError> errors;
  const auto config = parse_config(kMinimal, "rules.toml", "/base", errors);
  REQUIRE(config);
  CHECK(errors.empty());
  CHECK(config->state_dir == "/base/.folderhook");
  REQUIRE(config->folders.size() == 1);
  const FolderRule& f = config->folders[0];
  CHECK(f.path == "/base/demo");
  CHECK(f.urls == std::vector<std::string>{"http://127.0.0.1:8787/hook"});
  CHECK(f.interface == "sftp");
  CHECK(f.username.empty());
  CHECK(f.actions.size() == 6);
  CHECK(f.temp_patterns == default_temp_patterns());
  CHECK(config->delivery.timeout == 10s);
  CHECK(config->delivery.retry == folderhook::delivery::default_retry_schedule());
  CHECK_FALSE(config->delivery.exactly_200);
}

TEST_CASE("the default retry schedule spans about three days") {
  std::chrono::milliseconds total{0};
  for (auto wait : folderhook::delivery::default_retry_schedule()) total += wait;
  CHECK(total > 72h - 6h);
  CHECK(total < 72h + 6h);
}

TEST_CASE("interface defaults to web and urls may be one comma-separated string") {
  std::vector<ConfigError> errors;
  const auto config = parse_config(R"(
[[folder]]
path = "/srv/in"
urls = "http://a/hook, http://b/hook"
)", "rules.toml", "/base", errors);
  REQUIRE(config);
  CHECK(config->folders[0].interface == "web");
  CHECK(config->folders[0].urls == std::vector<std::string>{"http://a/hook", "http://b/hook"});
}

TEST_CASE("a TOML syntax error names the file, line and column") {
  CHECK(one_error("[agent]\nstate_dir = \n").rfind("rules.toml:2:", 0) == 0);
}

TEST_CASE("an unknown key is an error with a suggestion") {
  CHECK(one_error(folder_with("interfce = \"sftp\"\n")) ==
        "rules.toml:4:1: unknown key 'interfce' in [[folder]]; did you mean 'interface'?");
}

TEST_CASE("a URL that does not parse is named with its place") {
  CHECK(one_error("[[folder]]\npath = \"/srv/in\"\nurls = [\"ftp://a/hook\"]\n")
            .rfind("rules.toml:3:8: folder.urls: 'ftp://a/hook' is not a usable URL", 0) == 0);
}

TEST_CASE("a folder without urls or path is an error at its table") {
  const auto errors = errors_of("[[folder]]\ninterface = \"sftp\"\n");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == "rules.toml:1:1: [[folder]] needs a path");
  CHECK(errors[1] == "rules.toml:1:1: [[folder]] needs urls, a list of at least one URL");
}

TEST_CASE("an interface outside the seven is refused") {
  CHECK(one_error(folder_with("interface = \"smb\"\n")) ==
        "rules.toml:4:13: folder.interface must be one of web, ftp, robot, jsapi, restapi, sftp, "
        "dav (got 'smb')");
}

TEST_CASE("bad durations and success values are refused with their place") {
  const auto errors = errors_of(R"([delivery]
timeout = "10"
retry = ["1m", "soon"]
success = "3xx"
[[folder]]
path = "/srv/in"
urls = ["http://a/hook"]
)");
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].rfind("rules.toml:2:11: delivery.timeout must be a duration", 0) == 0);
  CHECK(errors[1].rfind("rules.toml:3:16: delivery.retry must be a duration", 0) == 0);
  CHECK(errors[2] == "rules.toml:4:11: delivery.success must be \"2xx\" or \"200\"");
}

TEST_CASE("a folder listed twice is an error") {
  const std::string again = "[[folder]]\npath = \"/srv/in/\"\nurls = [\"http://b/hook\"]\n";
  CHECK(says(one_error(folder_with(again)), "is listed twice (first at line 1)"));
}

TEST_CASE("a folder inside the state_dir is refused") {
  CHECK(says(one_error("[agent]\nstate_dir = \"/var/lib/fh\"\n[[folder]]\n"
                       "path = \"/var/lib/fh/x\"\nurls = [\"http://a/hook\"]\n"),
             "lies inside agent.state_dir"));
}

TEST_CASE("a rules file with no folder says so") {
  CHECK(errors_of("[agent]\nstate_dir = \"/tmp/x\"\n") ==
        std::vector<std::string>{"rules.toml: no [[folder]] to watch: add one with a path and urls"});
}

TEST_CASE("an unknown action is refused") {
  CHECK(says(one_error(folder_with("actions = [\"create\", \"delete\"]\n")),
             "unknown action 'delete'"));
}

TEST_CASE("behaviors are read with their defaults") {
  std::vector<ConfigError> errors;
  const auto config = parse_config(R"([agent]
behavior_interval = "30s"
robot_username = "janitor"
[[folder]]
path = "/srv/in"
urls = ["http://a/hook"]
[[folder.behavior]]
kind = "retention"
after = "3d"
[[folder.behavior]]
kind = "move_after"
after = "1h"
to = "/srv/in/archive"
remove_empty_dirs = true
)", "rules.toml", "/base", errors);
  REQUIRE(config);
  CHECK(config->behavior_interval == 30s);
  CHECK(config->robot_username == "janitor");
  REQUIRE(config->folders[0].behaviors.size() == 2);
  CHECK(config->folders[0].behaviors[0].after == 72h);
  CHECK_FALSE(config->folders[0].behaviors[0].remove_empty_dirs);
  CHECK(config->folders[0].behaviors[1].to == "/srv/in/archive");
  CHECK(config->folders[0].behaviors[1].remove_empty_dirs);
}

TEST_CASE("a behavior with an unknown kind, no after, or a `to` outside every folder is refused") {
  const auto errors = errors_of(folder_with(R"([[folder.behavior]]
kind = "shred"
after = "1d"
[[folder.behavior]]
kind = "retention"
[[folder.behavior]]
kind = "move_after"
after = "1d"
to = "/elsewhere"
)"));
  REQUIRE(errors.size() == 3);
  CHECK(errors[0] == "rules.toml:5:8: folder.behavior.kind must be \"retention\" or \"move_after\" (got 'shred')");
  CHECK(errors[1].rfind("rules.toml:7:1: [[folder.behavior]] needs after", 0) == 0);
  CHECK(errors[2].rfind("rules.toml:9:1: folder.behavior.to '/elsewhere' is outside every watched folder", 0) == 0);
}

TEST_CASE("new keys are validated: method, headers, secret, root, log_format, status_listen") {
  const auto errors = errors_of(R"([agent]
root = "relative"
log_format = "xml"
status_listen = "9780"
[[folder]]
path = "/srv/in"
urls = ["http://a/hook"]
method = "PUT"
headers = { "Bad Name" = "x" }
secret = "not-a-secret"
)");
  REQUIRE(errors.size() == 6);
  CHECK(errors[0] == "rules.toml:3:14: agent.log_format must be \"json\" or \"text\"");
  CHECK(errors[1] == "rules.toml:2:8: agent.root must be an absolute path");
  CHECK(errors[2].rfind("rules.toml:4:17: agent.status_listen must be HOST:PORT", 0) == 0);
  CHECK(errors[3] == "rules.toml:8:10: folder.method must be \"GET\" or \"POST\" (got 'PUT')");
  CHECK(errors[4] == "rules.toml:9:13: folder.headers: 'Bad Name' is not a valid header name");
  CHECK(errors[5].rfind("rules.toml:10:10: folder.secret must be \"whsec_\" followed by base64", 0) == 0);
}

TEST_CASE("agent.backend defaults to auto and takes fanotify or inotify, nothing else") {
  std::vector<ConfigError> errors;
  CHECK(parse_config(kMinimal, "rules.toml", "/base", errors)->backend == "auto");
  const std::string fanotify = std::string(kMinimal) + "";
  std::string text = kMinimal;
  text.insert(text.find("state_dir"), "backend = \"fanotify\"\n");
  CHECK(parse_config(text, "rules.toml", "/base", errors)->backend == "fanotify");
  text = kMinimal;
  text.insert(text.find("state_dir"), "backend = \"kqueue\"\n");
  CHECK(errors_of(text) == std::vector<std::string>{
                               "rules.toml:3:11: agent.backend must be \"auto\", \"fanotify\" or "
                               "\"inotify\" (got 'kqueue')"});
}

TEST_CASE("[interfaces] replaces the process names of the interfaces it lists, keeps the rest") {
  std::vector<ConfigError> errors;
  const auto defaults = parse_config(kMinimal, "rules.toml", "/base", errors);
  REQUIRE(defaults);
  CHECK(defaults->interfaces == default_interfaces());
  const auto config = parse_config(std::string(kMinimal) + R"(
[interfaces]
sftp = ["sftp-server", "sshd-session"]
restapi = ["node"]
)", "rules.toml", "/base", errors);
  REQUIRE(config);
  auto names = [&](const std::string& interface) {
    for (const auto& [name, processes] : config->interfaces) {
      if (name == interface) return processes;
    }
    return std::vector<std::string>{};
  };
  CHECK(names("sftp") == std::vector<std::string>{"sftp-server", "sshd-session"});
  CHECK(names("restapi") == std::vector<std::string>{"node"});
  CHECK(names("ftp") == std::vector<std::string>{"vsftpd", "proftpd", "pure-ftpd"});
  CHECK(errors_of(std::string(kMinimal) + "[interfaces]\nsftpd = [\"x\"]\n") ==
        std::vector<std::string>{
            "rules.toml:10:1: unknown key 'sftpd' in [interfaces]; did you mean 'sftp'?"});
}

TEST_CASE("file_field needs POST, and max_file_bytes is a size") {
  const auto errors =
      errors_of(folder_with("file_field = \"upload\"\nmax_file_bytes = \"lots\"\n"));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == "rules.toml:4:14: folder.file_field needs method = \"POST\"");
  CHECK(errors[1].rfind("rules.toml:5:18: folder.max_file_bytes must be a size", 0) == 0);
}

TEST_CASE("delivery.in_memory is 10000 by default, and a whole number from 100 to 10000000") {
  std::vector<ConfigError> errors;
  CHECK(parse_config(kMinimal, "rules.toml", "/base", errors)->delivery.in_memory == 10'000);
  const std::string small = std::string(kMinimal) + "[delivery]\nin_memory = 500\n";
  CHECK(parse_config(small, "rules.toml", "/base", errors)->delivery.in_memory == 500);
  CHECK(errors.empty());
  for (const char* bad : {"99", "10000001", "\"1k\""}) {
    CHECK(says(one_error(std::string(kMinimal) + "[delivery]\nin_memory = " + bad + "\n"),
               "delivery.in_memory must be a whole number from 100 to 10000000"));
  }
}

TEST_CASE("delivery.pipelining is off by default, and true or false only") {
  std::vector<ConfigError> errors;
  CHECK_FALSE(parse_config(kMinimal, "rules.toml", "/base", errors)->delivery.pipelining);
  const std::string on = std::string(kMinimal) + "[delivery]\npipelining = true\n";
  CHECK(parse_config(on, "rules.toml", "/base", errors)->delivery.pipelining);
  const std::string bad = std::string(kMinimal) + "[delivery]\npipelining = 64\n";
  CHECK(says(one_error(bad), "delivery.pipelining must be true or false"));
}

TEST_CASE("an empty retry schedule is refused at its place: the default would apply instead") {
  CHECK(one_error("[delivery]\nretry = []\n" + folder_with("")) ==
        "rules.toml:2:9: delivery.retry must list at least one duration, such as [\"1m\", \"5m\"]");
}

TEST_CASE("a NUL byte in a path, a list or a header is refused at its place") {
  const auto errors = errors_of(R"([agent]
state_dir = "/var/lib/f\u0000h"
[[folder]]
path = "/srv/in\u0000/x"
urls = ["http://a/hook"]
include = ["a\u0000"]
headers = { X-A = "b\u0000c" }
[[folder.behavior]]
kind = "move_after"
after = "1d"
to = "/srv/in/\u0000"
)");
  REQUIRE(errors.size() == 5);
  CHECK(errors[0] == "rules.toml:2:13: agent.state_dir must not contain a NUL byte (\\u0000)");
  CHECK(errors[1] == "rules.toml:4:8: folder.path must not contain a NUL byte (\\u0000)");
  CHECK(errors[2] == "rules.toml:6:12: folder.include must not contain a NUL byte (\\u0000)");
  CHECK(errors[3] == "rules.toml:7:19: folder.headers.X-A must not contain a NUL byte (\\u0000)");
  CHECK(errors[4].rfind("rules.toml:11:6: ", 0) == 0);
  CHECK(errors[4].find("NUL byte") != std::string::npos);
}

TEST_CASE("a state_dir inside a watched folder is refused at the state_dir's place") {
  CHECK(one_error("[agent]\nstate_dir = \"/srv/in/.folderhook\"\n" + folder_with("")) ==
        "rules.toml:2:13: agent.state_dir '/srv/in/.folderhook' lies inside the watched folder "
        "'/srv/in', whose users could rename or replace it; put it outside every watched folder");
  // A sibling whose name only starts like the folder's is outside it.
  CHECK(errors_of("[agent]\nstate_dir = \"/srv/in2\"\n" + folder_with("")).empty());
}

TEST_CASE("a URL with a password or a credential in its query counts as a secret in the rules") {
  const auto holds = [](const std::string& url) {
    std::vector<ConfigError> errors;
    const auto config = parse_config("[[folder]]\npath = \"/srv/in\"\nurls = [\"" + url + "\"]\n",
                                     "rules.toml", "/base", errors);
    REQUIRE(config);
    return holds_secrets(*config);
  };
  CHECK(holds("https://user:pw@h/hook"));
  CHECK(holds("https://h/hook?a=1&api_key=k"));
  CHECK_FALSE(holds("https://h/hook?a=1"));
}

TEST_CASE("the filters users, interfaces, types, min_size and max_size are parsed") {
  std::vector<ConfigError> errors;
  const auto config = parse_config(R"([[folder]]
path = "/srv/in"
urls = ["http://a/hook"]
users = ["alice", "bob"]
interfaces = ["sftp", "dav"]
types = ["file"]
min_size = "1KiB"
max_size = "2MB"
)", "rules.toml", "/base", errors);
  REQUIRE(errors.empty());
  REQUIRE(config);
  REQUIRE(config->folders.size() == 1);
  const FolderRule& rule = config->folders[0];
  CHECK(rule.users == std::vector<std::string>{"alice", "bob"});
  CHECK(rule.interfaces == std::vector<std::string>{"sftp", "dav"});
  CHECK(rule.types == std::set<folderhook::watch::ObjectType>{folderhook::watch::ObjectType::kFile});
  CHECK(rule.min_size == 1024);
  CHECK(rule.max_size == 2'000'000u);
}

TEST_CASE("bad filters are refused with their place") {
  const auto errors = errors_of(folder_with(R"(interfaces = ["smb"]
types = ["link"]
min_size = "big"
max_size = "1KiB"
)"));
  REQUIRE(errors.size() == 3);
  CHECK(errors[0] == "rules.toml:4:14: folder.interfaces: unknown interface 'smb' (web, ftp, "
                     "robot, jsapi, restapi, sftp, dav)");
  CHECK(errors[1] == "rules.toml:5:9: folder.types: unknown type 'link' (file, directory, permission)");
  CHECK(errors[2] == "rules.toml:6:12: folder.min_size must be a size such as \"10MiB\" (B, KiB, "
                     "MiB, GiB, KB, MB, GB)");
  CHECK(one_error(folder_with("min_size = \"2KiB\"\nmax_size = \"1KiB\"\n")) ==
        "rules.toml:5:12: folder.max_size is below folder.min_size: no file would be reported");
}
