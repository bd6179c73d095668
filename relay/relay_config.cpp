#include "relay/relay_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "delivery/exec/exec_url.h"
#include "delivery/retry.h"
#include "delivery/url.h"

namespace folderhook::relay {
namespace {

namespace fs = std::filesystem;
using agent::ConfigError;

constexpr std::string_view kRelayKeys[] = {"source",       "consumer",   "dead_stream",
                                           "dead_subject", "batch",      "ack_wait",
                                           "nats_token",   "nats_creds"};
// [[folder]] keys that mean something only beside a watched folder: the message has no size,
// no file content and no folder to act on.
constexpr std::string_view kWatchOnlyFolderKeys[] = {
    "min_size", "max_size", "file_field", "max_file_bytes", "behavior", "temp_patterns"};

ConfigError error_at(const std::string& file, const toml::node* node, std::string message) {
  ConfigError e{file, 0, 0, std::move(message)};
  if (node != nullptr) {
    e.line = static_cast<int>(node->source().begin.line);
    e.column = static_cast<int>(node->source().begin.column);
  }
  return e;
}

std::optional<toml::table> read_toml(const std::string& file) {
  try {
    return toml::parse_file(file);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
}

void parse_relay_table(const std::string& file, const toml::table& t, RelayConfig& config,
                       std::vector<ConfigError>& errors) {
  RelaySettings& r = config.relay;
  for (const auto& [key, node] : t) {
    if (std::find(std::begin(kRelayKeys), std::end(kRelayKeys), key.str()) == std::end(kRelayKeys))
      errors.push_back(error_at(file, &node, "unknown key '" + std::string(key.str()) +
                                                 "' in [relay]"));
  }
  const auto text = [&](std::string_view key) -> std::optional<std::string> {
    const toml::node* node = t.get(key);
    if (node == nullptr) return std::nullopt;
    if (auto v = node->value<std::string>()) return *v;
    errors.push_back(error_at(file, node, "relay." + std::string(key) + " must be a string"));
    return std::nullopt;
  };

  if (auto v = text("source")) {
    std::string why;
    auto url = delivery::parse_nats_url(*v, why);
    if (!url) {
      errors.push_back(error_at(file, t.get("source"), "relay.source: " + why));
    } else if (!valid_jetstream_name(url->subject)) {
      errors.push_back(error_at(file, t.get("source"),
                                "relay.source must end with /STREAM, the stream's name (no '.', "
                                "'*', '>' or spaces); got '" + url->subject + "'"));
    } else {
      r.source = *v;
      r.url = *url;
      r.stream = url->subject;
    }
  } else if (t.get("source") == nullptr) {
    errors.push_back(error_at(file, &t, "[relay] needs source = \"nats://host:port/STREAM\""));
  }
  if (auto v = text("consumer")) r.consumer = *v;
  if (!valid_jetstream_name(r.consumer))
    errors.push_back(error_at(file, t.get("consumer"), "relay.consumer '" + r.consumer +
                                                           "' is not a consumer name (no '.', "
                                                           "'*', '>' or spaces)"));
  r.dead_stream = text("dead_stream").value_or(r.stream + "_DEAD");
  if (!r.stream.empty() && !valid_jetstream_name(r.dead_stream))
    errors.push_back(error_at(file, t.get("dead_stream"),
                              "relay.dead_stream '" + r.dead_stream + "' is not a stream name"));
  r.dead_subject = text("dead_subject").value_or("folderhook.dead." + r.stream);
  if (!r.stream.empty() && !delivery::nats_subject(r.dead_subject, "")) {
    errors.push_back(error_at(file, t.get("dead_subject"),
                              "relay.dead_subject '" + r.dead_subject + "' is not a subject"));
  }
  if (!r.dead_stream.empty() && r.dead_stream == r.stream)
    errors.push_back(error_at(file, t.get("dead_stream"),
                              "relay.dead_stream must not be the source stream"));
  if (const toml::node* node = t.get("batch")) {
    const auto v = node->value<int64_t>();
    if (!v || *v < 1 || *v > 256)
      errors.push_back(error_at(file, node, "relay.batch must be an integer from 1 to 256"));
    else
      r.batch = static_cast<int>(*v);
  }
  if (auto v = text("ack_wait")) {
    std::string why;
    auto d = delivery::parse_duration(*v, why);
    if (!d || *d < std::chrono::seconds(1))
      errors.push_back(error_at(file, t.get("ack_wait"),
                                "relay.ack_wait must be a duration of at least 1s (\"2m\")" +
                                    (why.empty() ? std::string() : ": " + why)));
    else
      r.ack_wait = *d;
  }
  if (auto v = text("nats_token")) r.token = *v;
  if (auto v = text("nats_creds"); v && !v->empty()) {
    std::error_code ec;
    r.creds_file = fs::absolute(fs::path(*v), ec).lexically_normal().string();
    if (!std::ifstream(r.creds_file).good())
      errors.push_back(error_at(file, t.get("nats_creds"),
                                "relay.nats_creds: cannot read '" + r.creds_file + "'"));
  }
}

}  // namespace

bool valid_jetstream_name(const std::string& name) {
  if (name.empty()) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' ||
           static_cast<unsigned char>(c) <= ' ';
  });
}

bool is_relay_file(const std::string& file) {
  const auto root = read_toml(file);
  return root && root->get("relay") != nullptr;
}

std::optional<RelayConfig> load_relay_config(const std::string& file,
                                             std::vector<ConfigError>& errors) {
  std::optional<agent::Config> base = agent::load_config(file, errors, {"relay"});
  const auto root = read_toml(file);
  if (!root) return std::nullopt;  // load_config reported the parse error
  RelayConfig config;
  if (base) config.base = std::move(*base);
  const toml::node* relay = root->get("relay");
  if (relay == nullptr || !relay->is_table()) {
    errors.push_back(error_at(file, relay, "a relay's file needs a [relay] table with source"));
  } else {
    parse_relay_table(file, *relay->as_table(), config, errors);
  }
  if (const toml::array* folders = root->get_as<toml::array>("folder")) {
    for (const toml::node& item : *folders) {
      const toml::table* folder = item.as_table();
      if (folder == nullptr) continue;
      for (std::string_view key : kWatchOnlyFolderKeys) {
        if (folder->get(key) != nullptr)
          errors.push_back(error_at(file, folder->get(key),
                                    "folder." + std::string(key) +
                                        " is not used by a relay: it watches no folder, and "
                                        "a message carries no size or content"));
      }
    }
  }
  for (const agent::FolderRule& rule : config.base.folders) {
    // exec: runs the program on the relay's machine through the agent's exec sink (the agent's
    // check of the program applies). NATS URLs are refused: a relay republishing into a stream
    // is a loop waiting to happen, and not what it is for.
    for (const std::string& url : rule.urls) {
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0 &&
          !delivery::is_exec_url(url))
        errors.push_back({file, rule.line, rule.column,
                          "folder.urls: a relay delivers over HTTP or exec: only; '" +
                              delivery::mask_url(url) +
                              "' is not an http://, https:// or exec: URL"});
    }
  }
  if (!errors.empty()) return std::nullopt;
  return config;
}

std::chrono::milliseconds ack_wait_for(const RelayConfig& config) {
  if (config.relay.ack_wait.count() > 0) return config.relay.ack_wait;
  size_t most = 1;
  for (const agent::FolderRule& rule : config.base.folders) most = std::max(most, rule.urls.size());
  // Several [[folder]] tables may route one message: each of their URL lists is tried.
  const auto per_message = config.base.delivery.timeout * static_cast<int64_t>(most) *
                           static_cast<int64_t>(std::max<size_t>(1, config.base.folders.size()));
  return std::max<std::chrono::milliseconds>(std::chrono::seconds(30), per_message * 2);
}

}  // namespace folderhook::relay
