// [[folder]] body_template and content_type as the parser reads and checks them.
#include <doctest/doctest.h>

#include "agent/config.h"
#include "tests/agent/config_errors.h"

using namespace folderhook::agent;

namespace {

// A folder at /base/d with `keys` added; the errors as FILE:LINE:COL lines (the keys start at
// line 4).
std::vector<std::string> template_config_errors(const std::string& keys,
                                                std::optional<Config>* config = nullptr) {
  return folderhook::agent::testing::config_errors(
      "[[folder]]\npath = \"./d\"\nurls = [\"http://127.0.0.1:8787/hook\"]\n" + keys, config);
}

}  // namespace

TEST_CASE("a body_template implies POST and sends application/json unless content_type says") {
  std::optional<Config> config;
  CHECK(template_config_errors(
            "body_template = '{\"text\": \"{{username}} {{action}} {{path}}\"}'\n", &config)
            .empty());
  REQUIRE(config);
  const FolderRule& f = config->folders[0];
  CHECK(f.method == "POST");
  CHECK(f.body_template == R"({"text": "{{username}} {{action}} {{path}}"})");
  CHECK(f.content_type == "application/json");

  CHECK(template_config_errors("method = \"POST\"\nbody_template = \"{{path}}\"\n"
                               "content_type = \"text/plain; charset=utf-8\"\n",
                               &config)
            .empty());
  REQUIRE(config);
  CHECK(config->folders[0].content_type == "text/plain; charset=utf-8");
}

TEST_CASE("without body_template the folder is as before, and content_type may only say JSON") {
  std::optional<Config> config;
  CHECK(template_config_errors("content_type = \"application/json\"\nbody_template = \"\"\n",
                               &config)
            .empty());
  REQUIRE(config);
  CHECK(config->folders[0].method == "GET");
  CHECK(config->folders[0].body_template.empty());
  CHECK(template_config_errors("content_type = \"text/plain\"\n") ==
        std::vector<std::string>{
            "rules.toml:4:16: folder.content_type is the Content-Type of body_template, which "
            "this folder does not set (without it a POST body is the JSON object of the fields, "
            "application/json)"});
}

TEST_CASE("a template that does not parse or names an unknown variable is an error at its place") {
  auto errors = template_config_errors("body_template = '{\"t\": \"{{#path}}x\"}'\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        "rules.toml:4:17: folder.body_template does not parse: Unclosed section \"path\" at 7");
  errors = template_config_errors("interface = \"ftp\"\nbody_template = \"{{usrname}}\"\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("rules.toml:5:17: folder.body_template unknown variable {{usrname}} (at "
                        "offset 0); the variables are action, interface, path, destination, at, "
                        "username, type, id, size, path_base64, destination_base64",
                        0) == 0);
}

TEST_CASE("body_template refuses GET, file_field, a folder of NATS URLs and a bad content_type") {
  CHECK(template_config_errors("method = \"GET\"\nbody_template = \"{{path}}\"\n") ==
        std::vector<std::string>{
            "rules.toml:4:10: folder.method = \"GET\" sends no body, so body_template cannot be "
            "used; set method = \"POST\" or leave method out"});
  CHECK(template_config_errors(
            "method = \"POST\"\nfile_field = \"file\"\nbody_template = \"{{path}}\"\n") ==
        std::vector<std::string>{"rules.toml:6:17: folder.body_template cannot be used with "
                                 "file_field (its body is multipart/form-data)"});
  const std::string nats =
      "[[folder]]\npath = \"./d\"\nurls = [\"nats://127.0.0.1:4222/files\"]\n"
      "body_template = \"{{path}}\"\n";
  std::vector<ConfigError> errors;
  parse_config(nats, "rules.toml", "/base", errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].to_string() ==
        "rules.toml:4:17: folder.body_template shapes the body of HTTP POSTs, and this folder has "
        "no HTTP URL (NATS and exec: URLs always get the JSON object of the fields)");
  CHECK(template_config_errors("body_template = \"{{path}}\"\ncontent_type = \"text/plain\\r\\n"
                               "X-Injected: 1\"\n") ==
        std::vector<std::string>{"rules.toml:5:16: folder.content_type must not hold control "
                                 "characters or line breaks"});
  CHECK(template_config_errors("body_template = \"{{path}}\"\ncontent_type = \"json\"\n") ==
        std::vector<std::string>{"rules.toml:5:16: folder.content_type must be a media type such "
                                 "as \"application/json\" or \"text/plain; charset=utf-8\""});
}
