#include "agent/nats_stream_command.h"

#include <algorithm>
#include <iostream>

#include "agent/duration.h"
#include "delivery/dispatcher.h"
#include "delivery/nats/nats_stream.h"
#include "delivery/nats/nats_url.h"
#include "delivery/retry.h"
#include "delivery/url.h"

namespace folderhook::agent {
namespace {

bool is_nats(const std::string& url) {
  return url.starts_with("nats://") || url.starts_with("tls://");
}

}  // namespace

int nats_stream_command(const Config& config, const NatsStreamArgs& args) {
  std::string folder = args.folder;
  while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
  const FolderRule* rule = nullptr;
  for (const FolderRule& r : config.folders) {
    if (r.path == folder && std::any_of(r.urls.begin(), r.urls.end(), is_nats)) rule = &r;
  }
  if (rule == nullptr) {
    std::cerr << "folderhook nats-stream: '" << args.folder << "' is not a folder of "
              << config.file << " with a nats:// or tls:// URL\n";
    return 2;
  }
  delivery::NatsStreamSpec spec;
  spec.name = args.name;
  spec.replicas = args.replicas;
  spec.memory = args.memory;
  std::string why;
  const auto window = delivery::parse_duration(args.duplicate_window, why);
  const auto max_age = args.max_age.empty() ? std::optional<std::chrono::milliseconds>(0)
                                            : delivery::parse_duration(args.max_age, why);
  if (spec.name.empty() || spec.name.find_first_of(". *>\t\r\n") != std::string::npos ||
      !window || !max_age || spec.replicas < 1 || spec.replicas > 5) {
    std::cerr << "folderhook nats-stream: --name must be a word without '.', '*', '>' or "
                 "spaces, --replicas 1 to 5, --duplicate-window and --max-age durations "
                 "such as \"2h\"\n";
    return 2;
  }
  spec.duplicate_window = *window;
  spec.max_age = *max_age;
  std::string first_url;
  for (const std::string& url : rule->urls) {
    if (!is_nats(url)) continue;
    if (first_url.empty()) first_url = url;
    std::string ignored;
    if (const auto parsed = delivery::parse_nats_url(url, ignored)) {
      const std::string filter = delivery::nats_subject_filter(parsed->subject);
      if (std::find(spec.subjects.begin(), spec.subjects.end(), filter) == spec.subjects.end()) {
        spec.subjects.push_back(filter);
      }
    }
  }
  delivery::DispatcherOptions options;
  options.timeout = config.delivery.timeout;
  options.ca_file = config.delivery.ca_file;
  std::string summary, error;
  if (!delivery::ensure_nats_stream(first_url, rule->nats_settings, spec,
                                    delivery::sink_options(options), summary, error)) {
    std::cerr << "folderhook nats-stream: " << delivery::mask_url(first_url) << ": " << error
              << "\n";
    return 1;
  }
  std::cout << summary << "\n";
  return 0;
}

}  // namespace folderhook::agent
