#include "harness.h"

#include <doctest/doctest.h>

namespace folderhook::delivery::test {

Logger LogCollector::logger() {
  return [this](std::string_view level, std::string_view msg, const nlohmann::json& fields) {
    nlohmann::json line = fields.is_object() ? fields : nlohmann::json::object();
    line["level"] = std::string(level);
    line["msg"] = std::string(msg);
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
    cv_.notify_all();
  };
}

std::vector<nlohmann::json> LogCollector::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

std::vector<nlohmann::json> LogCollector::attempts() const {
  std::vector<nlohmann::json> out;
  for (auto& l : lines()) {
    if (l["msg"] == "delivery") out.push_back(l);
  }
  return out;
}

bool LogCollector::wait(const std::function<bool(const std::vector<nlohmann::json>&)>& ready,
                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ready(lines_); });
}

DispatcherOptions test_options(const std::string& state_dir) {
  DispatcherOptions o;
  o.state_dir = state_dir;
  o.timeout = 2s;
  o.retry = {200ms, 400ms};
  o.user_agent = "folderhook-test/1";
  o.notify.gather = 300ms;
  return o;
}

std::unique_ptr<Dispatcher> start_dispatcher(const DispatcherOptions& options, LogCollector& log) {
  std::string error;
  auto d = open_dispatcher(options, log.logger(), error);
  REQUIRE_MESSAGE(d, error);
  return d;
}

bool commit_index_changes(Outbox& outbox, std::vector<IndexChange> changes) {
  Batch batch;
  batch.index_changes = std::move(changes);
  std::vector<int64_t> seqs;
  std::string error;
  bool full = false;
  return outbox.commit(batch, seqs, error, full);
}

}  // namespace folderhook::delivery::test
