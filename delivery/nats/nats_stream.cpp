#include "delivery/nats/nats_stream.h"

#include "delivery/nats/nats_connection.h"
#include "delivery/nats/nats_url.h"

namespace folderhook::delivery {
namespace {

std::string settings_value(const std::vector<std::pair<std::string, std::string>>& settings,
                           std::string_view name) {
  for (const auto& [k, v] : settings) {
    if (k == name) return v;
  }
  return "";
}

std::string describe(const jsStreamInfo& si) {
  const jsStreamConfig& c = *si.Config;
  std::string subjects;
  for (int i = 0; i < c.SubjectsLen; ++i) subjects += (i ? "," : "") + std::string(c.Subjects[i]);
  return std::string("stream ") + c.Name + ": subjects " + subjects + ", replicas " +
         std::to_string(c.Replicas) + ", storage " +
         (c.Storage == js_MemoryStorage ? "memory" : "file") + ", duplicate window " +
         std::to_string(c.Duplicates / 1'000'000'000) + "s, messages " +
         std::to_string(si.State.Msgs);
}

}  // namespace

std::string nats_subject_filter(const std::string& subject_template) {
  std::string out = subject_template;
  for (size_t at; (at = out.find("{action}")) != std::string::npos;) out.replace(at, 8, "*");
  return out;
}

bool ensure_nats_stream(const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& settings,
                        const NatsStreamSpec& spec, const SinkOptions& options,
                        std::string& summary, std::string& error) {
  const auto parsed = parse_nats_url(url, error);
  if (!parsed) return false;
  NatsTarget target{*parsed, settings_value(settings, "nats_token"),
                    settings_value(settings, "nats_creds")};
  auto conn = NatsConnection::open(target, options, [](natsMsg*, jsPubAck*, jsPubAckErr*) {}, error);
  if (!conn) return false;
  std::vector<const char*> subjects;
  for (const auto& s : spec.subjects) subjects.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Replicas = spec.replicas;
  cfg.Storage = spec.memory ? js_MemoryStorage : js_FileStorage;
  cfg.Duplicates = static_cast<int64_t>(spec.duplicate_window.count()) * 1'000'000;
  cfg.MaxAge = static_cast<int64_t>(spec.max_age.count()) * 1'000'000;
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, conn->js(), &cfg, nullptr, &code);
  if (s != NATS_OK && code == JSStreamNameExistErr) {
    s = js_UpdateStream(&si, conn->js(), &cfg, nullptr, &code);
  }
  if (s != NATS_OK) {
    error = "cannot create or update stream '" + spec.name + "': " + nats_error_text(s);
    if (code != 0) error += " (JetStream error code " + std::to_string(static_cast<int>(code)) + ")";
    return false;
  }
  summary = describe(*si);
  jsStreamInfo_Destroy(si);
  return true;
}

}  // namespace folderhook::delivery
