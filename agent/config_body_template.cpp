// [[folder]] body_template and content_type (config_parser.h): the POST body as a Mustache
// template. Read after method, file_field and urls, which it is checked against.
#include <algorithm>
#include <cctype>

#include "agent/body_template.h"
#include "agent/config_parser.h"

namespace folderhook::agent::detail {

void Parser::parse_body_template(const toml::table& t, FolderRule& rule) {
  const auto text = string(t, "body_template", "folder");
  const auto type = string(t, "content_type", "folder");
  if (!text || text->empty()) {
    // The default body is JSON: saying so is harmless; any other type would be a false promise.
    if (type && *type != "application/json") {
      error(t.get("content_type"),
            "folder.content_type is the Content-Type of body_template, which this folder does not "
            "set (without it a POST body is the JSON object of the fields, application/json)");
    }
    return;
  }
  bool ok = true;
  if (const std::string problem = template_problem(*text); !problem.empty()) {
    error(t.get("body_template"), "folder.body_template " + problem);
    ok = false;
  }
  // A template is a body: it implies POST, and an explicit GET contradicts it.
  if (const toml::node* method = t.get("method"); method && rule.method != "POST") {
    if (rule.method == "GET") {
      error(method, "folder.method = \"GET\" sends no body, so body_template cannot be used; "
                    "set method = \"POST\" or leave method out");
    }
    ok = false;
  }
  if (!rule.file_field.empty()) {
    error(t.get("body_template"),
          "folder.body_template cannot be used with file_field (its body is multipart/form-data)");
    ok = false;
  }
  // NATS and exec: URLs (and any other kind that is not HTTP) get the JSON object of the fields
  // whatever the folder's body: a template with no HTTP URL to shape is a mistake.
  const bool has_http = std::any_of(rule.urls.begin(), rule.urls.end(), [](std::string url) {
    std::transform(url.begin(), url.end(), url.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  });
  if (!rule.urls.empty() && !has_http) {
    error(t.get("body_template"),
          "folder.body_template shapes the body of HTTP POSTs, and this folder has no HTTP URL "
          "(NATS and exec: URLs always get the JSON object of the fields)");
    ok = false;
  }
  std::string content_type = "application/json";
  if (type) {
    if (const std::string problem = content_type_problem(*type); !problem.empty()) {
      error(t.get("content_type"), "folder.content_type " + problem);
      ok = false;
    }
    content_type = *type;
  }
  if (!ok) return;
  rule.method = "POST";
  rule.body_template = *text;
  rule.content_type = std::move(content_type);
}

}  // namespace folderhook::agent::detail
