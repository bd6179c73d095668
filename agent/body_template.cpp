#include "agent/body_template.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include "delivery/url.h"

namespace folderhook::agent {
namespace {

namespace mustache = kainjow::mustache;

constexpr std::string_view kVariables[] = {
    "action",   "interface", "path", "destination", "at",          "username",
    "type",     "id",        "size", "path_base64", "destination_base64"};

std::string lower_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c);
  });
}

// The JSON string of `value`, quotes included; bytes that are not UTF-8 as U+FFFD. nlohmann's
// replacing dumper does both.
std::string json_string(const std::string& value) {
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_escape(const std::string& value) {
  const std::string quoted = json_string(value);
  return quoted.substr(1, quoted.size() - 2);
}

std::string markup_escape(const std::string& value) {
  // Valid UTF-8 first (a markup document declares one encoding), through the JSON round trip.
  const std::string text = nlohmann::json::parse(json_string(value)).get<std::string>();
  std::string out;
  out.reserve(text.size() + 16);
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // XML 1.0 cannot hold these even as character references.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
            c == 0x7f) {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

bool known(std::string_view name) {
  return std::find(std::begin(kVariables), std::end(kVariables), name) != std::end(kVariables);
}

// The first tag of `parent`'s subtree that names something other than a known variable.
std::string unknown_tag(const mustache::component<std::string>& parent, int section_depth) {
  using mustache::tag_type;
  for (const auto& child : parent.children) {
    const auto& tag = child.tag;
    const std::string at = " (at offset " + std::to_string(child.position) + ")";
    switch (tag.type) {
      case tag_type::variable:
      case tag_type::unescaped_variable:
      case tag_type::section_begin:
      case tag_type::section_begin_inverted:
        if (tag.name == "." && section_depth > 0 && tag.type != tag_type::section_begin &&
            tag.type != tag_type::section_begin_inverted) {
          break;
        }
        if (!known(tag.name)) {
          return "unknown variable {{" + tag.name + "}}" + at + "; the variables are action, "
                 "interface, path, destination, at, username, type, id, size, path_base64, "
                 "destination_base64";
        }
        break;
      case tag_type::partial:
        return "partials ({{>" + tag.name + "}}) are not supported" + at;
      default:
        break;
    }
    const bool section = tag.is_section_begin();
    if (std::string problem = unknown_tag(child, section_depth + (section ? 1 : 0));
        !problem.empty()) {
      return problem;
    }
  }
  return "";
}

}  // namespace

TemplateEscape template_escape_for(std::string_view content_type) {
  const std::string type = lower_media_type(content_type);
  if (type == "application/json" || type.ends_with("+json")) return TemplateEscape::kJson;
  if (type == "application/x-www-form-urlencoded") return TemplateEscape::kForm;
  if (type == "text/html" || type == "text/xml" || type == "application/xml" ||
      type.ends_with("+xml")) {
    return TemplateEscape::kMarkup;
  }
  return TemplateEscape::kNone;
}

std::span<const std::string_view> template_variables() { return kVariables; }

std::string template_problem(const std::string& text) {
  mustache::component<std::string> root;
  mustache::context<std::string> data_context;
  mustache::context_internal<std::string> context{data_context};
  std::string error;
  mustache::parser<std::string> parse{text, context, root, error};
  if (!error.empty()) return "does not parse: " + error;
  return unknown_tag(root, 0);
}

std::string content_type_problem(std::string_view content_type) {
  for (const char c : content_type) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return "must not hold control characters or line breaks";
    if (u >= 0x80) return "must be ASCII";
  }
  const std::string type = lower_media_type(content_type);
  const size_t slash = type.find('/');
  if (slash == std::string::npos || !is_token(std::string_view(type).substr(0, slash)) ||
      !is_token(std::string_view(type).substr(slash + 1))) {
    return "must be a media type such as \"application/json\" or \"text/plain; charset=utf-8\"";
  }
  return "";
}

std::string render_template(const std::string& text, std::string_view content_type,
                            const std::vector<std::pair<std::string, std::string>>& values) {
  mustache::mustache tmpl{text};
  if (!tmpl.is_valid()) return "";
  switch (template_escape_for(content_type)) {
    case TemplateEscape::kJson: tmpl.set_custom_escape(json_escape); break;
    case TemplateEscape::kForm:
      tmpl.set_custom_escape([](const std::string& v) { return delivery::percent_encode(v); });
      break;
    case TemplateEscape::kMarkup: tmpl.set_custom_escape(markup_escape); break;
    case TemplateEscape::kNone:
      tmpl.set_custom_escape([](const std::string& v) { return v; });
      break;
  }
  mustache::data data{mustache::data::type::object};
  for (const auto& [name, value] : values) data.set(name, value);
  return tmpl.render(data);
}

}  // namespace folderhook::agent
