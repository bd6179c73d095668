#include "agent/body_template.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "agent/webhook.h"
#include "delivery/signature.h"

using namespace folderhook;
using agent::render_template;
using agent::template_problem;
using agent::TemplateEscape;

namespace {

using Values = std::vector<std::pair<std::string, std::string>>;

const std::string kOdd = "a \"quoted\" back\\slash\nnew line\ttab\x01 bell\x7f";

watch::FileAction template_action(watch::Action kind, std::string path) {
  watch::FileAction a;
  a.action = kind;
  a.path = std::move(path);
  a.at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  a.username = "alice";
  return a;
}

}  // namespace

TEST_CASE("a JSON template gets every value as a valid JSON string with its exact text") {
  const std::string body =
      render_template(R"({"text": "{{username}} {{action}} {{path}}"})", "application/json",
                      Values{{"username", "bob"}, {"action", "create"}, {"path", kOdd}});
  const auto parsed = nlohmann::json::parse(body);  // throws if the JSON were broken
  CHECK(parsed["text"] == "bob create " + kOdd);
  CHECK(body.find("\\\"quoted\\\"") != std::string::npos);
  CHECK(body.find("back\\\\slash\\nnew line\\ttab\\u0001") != std::string::npos);
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD in JSON; path_base64 keeps them") {
  const std::string raw = "caf\xE9-\xFF.txt";  // Latin-1 bytes
  watch::FileAction a = template_action(watch::Action::kCreate, raw);
  const auto values =
      agent::template_values(agent::webhook_fields(a, agent::FolderRule{}), "msg_1", std::nullopt);
  const std::string body = render_template(R"({"p": "{{path}}", "b": "{{path_base64}}"})",
                                           "application/vnd.example+json", values);
  const auto parsed = nlohmann::json::parse(body);
  CHECK(parsed["p"] == "caf\xEF\xBF\xBD-\xEF\xBF\xBD.txt");
  CHECK(delivery::base64_decode(parsed["b"].get<std::string>()) == raw);
}

TEST_CASE("each content type escapes values its own way; triple braces never escape") {
  const Values v{{"path", "<a&b> \"q\" 'x' 50%\n\x02"}};
  CHECK(render_template("{{path}}", "application/x-www-form-urlencoded", v) ==
        "%3Ca%26b%3E%20%22q%22%20%27x%27%2050%25%0A%02");
  CHECK(render_template("{{path}}", "text/html; charset=utf-8", v) ==
        "&lt;a&amp;b&gt; &quot;q&quot; &#39;x&#39; 50%\n\xEF\xBF\xBD");
  CHECK(render_template("<p>{{path}}</p>", "application/atom+xml", v) ==
        "<p>&lt;a&amp;b&gt; &quot;q&quot; &#39;x&#39; 50%\n\xEF\xBF\xBD</p>");
  CHECK(render_template("{{path}}", "text/plain", v) == v[0].second);
  CHECK(render_template("{{{path}}}|{{&path}}", "application/json", v) ==
        v[0].second + "|" + v[0].second);
}

TEST_CASE("the escape is chosen by the media type, without parameters or case") {
  CHECK(agent::template_escape_for("application/json") == TemplateEscape::kJson);
  CHECK(agent::template_escape_for("Application/JSON; charset=utf-8") == TemplateEscape::kJson);
  CHECK(agent::template_escape_for("application/cloudevents+json") == TemplateEscape::kJson);
  CHECK(agent::template_escape_for("application/x-www-form-urlencoded") == TemplateEscape::kForm);
  CHECK(agent::template_escape_for("text/xml") == TemplateEscape::kMarkup);
  CHECK(agent::template_escape_for("application/xml") == TemplateEscape::kMarkup);
  CHECK(agent::template_escape_for("text/plain") == TemplateEscape::kNone);
  CHECK(agent::template_escape_for("application/octet-stream") == TemplateEscape::kNone);
}

TEST_CASE("a missing value renders empty; its section is skipped and its inverted one rendered") {
  const std::string tmpl = "{{action}}{{#destination}} to {{destination}}{{/destination}}"
                           "{{^size}} (size unknown){{/size}}{{#size}} ({{.}} B){{/size}}";
  CHECK(render_template(tmpl, "text/plain", Values{{"action", "destroy"}}) ==
        "destroy (size unknown)");
  CHECK(render_template(tmpl, "text/plain",
                        Values{{"action", "move"}, {"destination", "/b"}, {"size", "12"}}) ==
        "move to /b (12 B)");
}

TEST_CASE("template problems: syntax, unknown variables, partials, a dot outside a section") {
  CHECK(template_problem(R"({"text": "{{username}} {{action}} {{path}} {{size}} {{id}}"})").empty());
  CHECK(template_problem("{{#destination}}{{.}}{{/destination}}{{=<% %>=}}<% at %>").empty());
  CHECK(template_problem("{{path").rfind("does not parse: Unclosed tag at 0", 0) == 0);
  CHECK(template_problem("{{#path}}x").rfind("does not parse: Unclosed section \"path\"", 0) == 0);
  CHECK(template_problem("{{/path}}").rfind("does not parse: Unopened section \"path\"", 0) == 0);
  CHECK(template_problem("x {{pathh}}").rfind("unknown variable {{pathh}} (at offset 2); the "
                                               "variables are action, interface, path",
                                               0) == 0);
  CHECK(template_problem("{{#size}}{{user}}{{/size}}").rfind("unknown variable {{user}}", 0) == 0);
  CHECK(template_problem("{{^nope}}{{/nope}}").rfind("unknown variable {{nope}}", 0) == 0);
  CHECK(template_problem("{{path.x}}").rfind("unknown variable {{path.x}}", 0) == 0);
  CHECK(template_problem("{{.}}").rfind("unknown variable {{.}}", 0) == 0);
  CHECK(template_problem("{{> header}}").rfind("partials ({{>header}}) are not supported", 0) == 0);
}

TEST_CASE("content types: a media type with optional parameters, nothing that breaks a header") {
  CHECK(agent::content_type_problem("application/json").empty());
  CHECK(agent::content_type_problem("text/plain; charset=utf-8").empty());
  CHECK(agent::content_type_problem("application/vnd.api+json").empty());
  CHECK_FALSE(agent::content_type_problem("json").empty());
  CHECK_FALSE(agent::content_type_problem("text/").empty());
  CHECK_FALSE(agent::content_type_problem("text/plain\r\nX-Evil: 1").empty());
  CHECK_FALSE(agent::content_type_problem("text/pl\xC3\xA4in").empty());
}

TEST_CASE("a templated request has its id before the outbox: in the body, as sent and signed") {
  agent::FolderRule rule;
  rule.path = "/d";
  rule.urls = {"http://receiver/hook"};
  rule.method = "POST";
  rule.body_template = R"({"id": "{{id}}", "size": "{{size}}", "who": "{{username}}"})";
  rule.content_type = "application/json";
  watch::FileAction a = template_action(watch::Action::kUpdate, "/d/a.txt");
  a.meta.ino = 7;
  a.meta.size = 1234;
  const delivery::Request r = agent::make_request(a, rule);
  CHECK(r.id.rfind("msg_", 0) == 0);
  CHECK(r.id.size() == 36);
  CHECK(r.method == "POST");
  CHECK(r.content_type == "application/json");
  CHECK(r.query.empty());
  const auto body = nlohmann::json::parse(r.body);
  CHECK(body["id"] == r.id);
  CHECK(body["size"] == "1234");
  CHECK(body["who"] == "alice");
  // The fields stay as always (NATS URLs publish them).
  CHECK(r.fields.front() == std::pair<std::string, std::string>{"action", "update"});
  CHECK(agent::make_request(a, rule).id != r.id);
}

TEST_CASE("size is absent for a destroy, a directory and a file never seen") {
  watch::FileAction a = template_action(watch::Action::kRead, "/d/a");
  a.meta.ino = 3;
  a.meta.size = 0;
  CHECK(agent::reported_size(a) == 0u);  // an empty file is known to be empty
  a.action = watch::Action::kDestroy;
  CHECK_FALSE(agent::reported_size(a));
  a.action = watch::Action::kCreate;
  a.type = watch::ObjectType::kDirectory;
  CHECK_FALSE(agent::reported_size(a));
  a.type = watch::ObjectType::kFile;
  a.meta.ino = 0;
  CHECK_FALSE(agent::reported_size(a));
}
