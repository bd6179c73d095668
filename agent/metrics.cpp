#include "agent/metrics.h"

namespace folderhook::agent {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  char number[32];
  std::snprintf(number, sizeof number, "%.17g", value);
  out += number;
  out += '\n';
}

}  // namespace

void Metrics::count_operation(watch::Action action) {
  operations_[static_cast<size_t>(action)].fetch_add(1, kRelaxed);
}

void Metrics::count_attempt(std::string_view outcome, int64_t ms) {
  if (outcome == "delivered") delivered_.fetch_add(1, kRelaxed);
  else if (outcome == "retry") retried_.fetch_add(1, kRelaxed);
  else if (outcome == "dead") dead_.fetch_add(1, kRelaxed);
  else return;
  for (size_t i = 0; i < kLatencyBucketsMs.size(); ++i) {
    if (ms <= kLatencyBucketsMs[i]) latency_buckets_[i].fetch_add(1, kRelaxed);
  }
  latency_count_.fetch_add(1, kRelaxed);
  latency_sum_ms_.fetch_add(static_cast<uint64_t>(ms < 0 ? 0 : ms), kRelaxed);
}

void Metrics::set_watcher(const watch::WatchStats& stats) {
  watches_.store(stats.watches, kRelaxed);
  overflows_.store(stats.overflows, kRelaxed);
  degraded_.store(stats.degraded, kRelaxed);
  missing_roots_.store(stats.missing_roots, kRelaxed);
  actors_gone_.store(stats.actors_gone, kRelaxed);
}

void Metrics::set_outbox(bool failing, uint64_t held) {
  outbox_failing_.store(failing, kRelaxed);
  held_in_memory_.store(held, kRelaxed);
}

std::string Metrics::render(const nlohmann::json& status) const {
  std::string out;
  family(out, "folderhook_operations_total", "counter", "File operations reported, by action.");
  for (int a = 0; a <= static_cast<int>(watch::Action::kCopy); ++a) {
    const auto action = static_cast<watch::Action>(a);
    sample(out, "folderhook_operations_total",
           "action=\"" + std::string(watch::to_string(action)) + "\"",
           static_cast<double>(operations_[static_cast<size_t>(a)].load(kRelaxed)));
  }
  family(out, "folderhook_attempts_total", "counter", "Delivery attempts, by outcome.");
  sample(out, "folderhook_attempts_total", "outcome=\"delivered\"", delivered_.load(kRelaxed));
  sample(out, "folderhook_attempts_total", "outcome=\"retry\"", retried_.load(kRelaxed));
  sample(out, "folderhook_attempts_total", "outcome=\"dead\"", dead_.load(kRelaxed));

  family(out, "folderhook_attempt_duration_seconds", "histogram",
         "Time of one delivery attempt, all URLs tried included.");
  for (size_t i = 0; i < kLatencyBucketsMs.size(); ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "le=\"%g\"", static_cast<double>(kLatencyBucketsMs[i]) / 1000.0);
    sample(out, "folderhook_attempt_duration_seconds_bucket", le, latency_buckets_[i].load(kRelaxed));
  }
  sample(out, "folderhook_attempt_duration_seconds_bucket", "le=\"+Inf\"", latency_count_.load(kRelaxed));
  sample(out, "folderhook_attempt_duration_seconds_sum", "", latency_sum_ms_.load(kRelaxed) / 1000.0);
  sample(out, "folderhook_attempt_duration_seconds_count", "", latency_count_.load(kRelaxed));

  if (status.is_object()) {
    family(out, "folderhook_pending", "gauge", "Deliveries in the outbox, not yet accepted.");
    sample(out, "folderhook_pending", "", status.value("pending", 0.0));
    family(out, "folderhook_dead_letters", "gauge", "Deliveries that used every retry.");
    sample(out, "folderhook_dead_letters", "", status.value("dead_letters", 0.0));
    family(out, "folderhook_oldest_pending_age_seconds", "gauge",
           "Age of the oldest pending delivery (0 when none).");
    const auto age = status.find("oldest_pending_age_s");
    sample(out, "folderhook_oldest_pending_age_seconds", "",
           age != status.end() && age->is_number() ? age->get<double>() : 0.0);
  }

  family(out, "folderhook_watches", "gauge", "Kernel watches in use.");
  sample(out, "folderhook_watches", "", watches_.load(kRelaxed));
  family(out, "folderhook_queue_overflows_total", "counter", "Kernel event queue overflows.");
  sample(out, "folderhook_queue_overflows_total", "", overflows_.load(kRelaxed));
  family(out, "folderhook_degraded", "gauge", "1 when some directory could not be watched.");
  sample(out, "folderhook_degraded", "", degraded_.load(kRelaxed) ? 1 : 0);
  family(out, "folderhook_missing_folders", "gauge",
         "Watched folders that do not exist (looked for again).");
  sample(out, "folderhook_missing_folders", "", missing_roots_.load(kRelaxed));
  family(out, "folderhook_held_in_memory", "gauge",
         "New requests held in memory because the outbox cannot be written (full disk).");
  sample(out, "folderhook_held_in_memory", "", held_in_memory_.load(kRelaxed));
  family(out, "folderhook_actor_gone_total", "counter",
         "fanotify: events whose process was gone before it could be looked up.");
  sample(out, "folderhook_actor_gone_total", "", actors_gone_.load(kRelaxed));
  return out;
}

}  // namespace folderhook::agent
