// A folder's `body_template`: the POST body rendered from a Mustache template, each value
// escaped for the folder's `content_type`. Pure functions. The Mustache library
// (kainjow::mustache, Debian's libkainjow-mustache-dev) is included by body_template.cpp alone:
// it is a heavy header, and nothing else needs it.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace folderhook::agent {

// How a value is escaped where the template says {{name}}; {{{name}}} and {{&name}} are never
// escaped (the template's author takes over).
enum class TemplateEscape {
  kJson,    // inside a JSON string: quote, backslash, control characters; bytes that are not
            // UTF-8 become U+FFFD (the JSON stays valid; {{path_base64}} has the exact bytes)
  kForm,    // percent-encoded from the exact bytes, as the query string is
  kMarkup,  // & < > " ' as entities; not UTF-8 and control characters (but tab, LF, CR) as U+FFFD
  kNone,    // the exact bytes
};

// The escape of a Content-Type, compared without its parameters and case: JSON for
// application/json and every "+json" type; form for application/x-www-form-urlencoded; markup
// for text/html, text/xml, application/xml and every "+xml" type; none for anything else
// (text/plain, ...).
TemplateEscape template_escape_for(std::string_view content_type);

// The variables a template may name, in the README's order.
std::span<const std::string_view> template_variables();

// "" when `text` parses and names only template_variables() (a section may name them too; `.`
// only inside a section); else the problem, in one line, for `check`.
std::string template_problem(const std::string& text);

// "" when `content_type` can be sent as the Content-Type header: "type/subtype" of token
// characters, then optional "; name=value" parameters, no control characters.
std::string content_type_problem(std::string_view content_type);

// `text` rendered with `values` ((name, exact bytes)), each escaped for `content_type`. A name
// that is not among `values` renders as "", and its section ({{#name}}...{{/name}}) is skipped
// while its inverted section ({{^name}}...{{/name}}) is rendered. `text` is assumed to pass
// template_problem(); a template that does not renders as "".
std::string render_template(const std::string& text, std::string_view content_type,
                            const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace folderhook::agent
