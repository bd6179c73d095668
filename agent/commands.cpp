#include "agent/commands.h"

#include <ctime>
#include <iostream>

#include "agent/behaviors.h"
#include "agent/expect_store.h"
#include "agent/log.h"
#include "agent/replay.h"
#include "agent/router.h"
#include "agent/webhook.h"
#include "delivery/dead_letters.h"
#include "delivery/lock_holder.h"
#include "delivery/retry.h"
#include "delivery/status.h"
#include "delivery/url.h"

namespace folderhook::agent {
namespace {

std::string format_ms(int64_t ms) {
  return format_at(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

}  // namespace

int status_command(const Config& config, bool json) {
  std::string error;
  nlohmann::json status = delivery::read_status(config.state_dir, error);
  if (status.is_null()) {
    std::cerr << one_terminal_line(config.file + ": cannot read the state in " +
                                   config.state_dir + ": " + error)
              << "\n";
    return 2;
  }
  status["behaviors"] = load_behavior_runs(config.state_dir);
  std::string expect_error;
  status["expectations"] = expectations_status(config.state_dir, expect_error);
  if (status["expectations"].is_null()) status["expectations_error"] = expect_error;
  // Whether an agent runs on the state_dir: the holder of its lock.
  std::string lock_error;
  const int pid = delivery::state_dir_holder(config.state_dir, lock_error);
  if (pid < 0) {
    status["agent"] = {{"running", nullptr}, {"error", lock_error}};
  } else {
    status["agent"] = {{"running", pid > 0}, {"pid", pid > 0 ? nlohmann::json(pid) : nlohmann::json()}};
  }
  if (json) {
    std::cout << status.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  auto show = [](const nlohmann::json& v) { return v.is_null() ? std::string("-") : v.is_string() ? v.get<std::string>() : v.dump(); };
  std::cout << "agent:          "
            << (pid < 0   ? "unknown (" + lock_error + ")"
                : pid > 0 ? "running (pid " + std::to_string(pid) + ")"
                          : std::string("not running"))
            << "\n";
  std::cout << "pending:        " << show(status["pending"]) << "\n"
            << "oldest pending: " << show(status["oldest_pending_at"]) << " (age "
            << show(status["oldest_pending_age_s"]) << " s)\n"
            << "dead letters:   " << show(status["dead_letters"]) << "\n";
  for (const auto& url : status["urls"]) {
    std::cout << "url " << show(url["url"]) << ": last status " << show(url["last_status"])
              << ", consecutive failures " << show(url["consecutive_failures"])
              << ", last success " << show(url["last_success_at"]);
    if (url.contains("last_error") && !show(url["last_error"]).empty()) {
      std::cout << ", last error: " << show(url["last_error"]);
    }
    std::cout << "\n";
  }
  for (const auto& run : status["behaviors"]) {
    std::cout << "behavior " << show(run["kind"]) << " #" << show(run["behavior"]) << " of "
              << show(run["folder"]) << ": last run "
              << format_ms(run.value("finished_ms", int64_t{0})) << ", acted on "
              << show(run["acted"]) << " file(s), " << run["errors"].size() << " error(s)\n";
    for (const auto& e : run["errors"]) std::cout << "  error: " << show(e) << "\n";
  }
  for (const auto& e : status["expectations"]) {
    std::cout << "expectation " << display_value(show(e["expectation"])) << " of "
              << display_value(show(e["folder"])) << " (include " << display_value(show(e["include"]))
              << "): last deadline " << show(e["last_deadline"]) << ", " << show(e["outcome"])
              << "; next " << show(e["next_deadline"]) << "\n";
  }
  if (!expect_error.empty()) std::cout << "expectations: cannot read (" << expect_error << ")\n";
  return 0;
}

int replay_command(const Config& config, const std::string& since, const std::string& id,
                   bool stored) {
  std::optional<int64_t> since_ms;
  if (!since.empty()) {
    since_ms = delivery::parse_iso_utc(since);
    if (!since_ms) {
      std::cerr << one_terminal_line(
                       "folderhook replay: --since must be a UTC time such as "
                       "2026-11-26T10:00:00Z (got '" + since + "')")
                << "\n";
      return 2;
    }
  }
  std::vector<std::string> kept;
  const delivery::ReplayRewrite rewrite = [&](const delivery::Request& request) {
    if (stored) return request;
    ReplayedRequest replayed = with_current_rule(request, current_rule_of(config.folders, request));
    if (!replayed.kept_stored.empty()) {
      kept.push_back(request.id + " (" + display_value(request.path) + "): " + replayed.kept_stored);
    }
    return replayed.request;
  };
  std::string error;
  const int moved = delivery::replay_dead_letters(
      config.state_dir, since_ms, id.empty() ? std::nullopt : std::optional<std::string>(id),
      rewrite, error);
  if (moved < 0) {
    std::cerr << one_terminal_line("folderhook replay: " + error) << "\n";
    return 2;
  }
  if (!id.empty() && moved == 0) {
    std::cerr << "folderhook replay: no dead letter with id '" << display_value(id) << "' in "
              << one_terminal_line(config.state_dir) << " (`folderhook dead-letters` lists them)\n";
    return 1;
  }
  for (const std::string& k : kept) {
    std::cout << "kept the stored URLs, method, headers and secret of " << k << "\n";
  }
  std::cout << moved << " dead letter(s) back in the outbox"
            << (stored ? " with their stored URLs" : "") << "\n";
  return 0;
}

int dead_letters_command(const Config& config, bool json) {
  std::string error;
  const auto rows = delivery::list_dead_letters(config.state_dir, error);
  if (!rows) {
    std::cerr << one_terminal_line(config.file + ": cannot read the dead letters in " +
                                   config.state_dir + ": " + error)
              << "\n";
    return 2;
  }
  for (const delivery::DeadLetterRow& row : *rows) {
    std::string urls;
    for (const std::string& url : row.urls) urls += (urls.empty() ? "" : " ") + delivery::mask_url(url);
    const std::string died = delivery::format_iso_utc(row.died_ms);
    if (json) {
      const nlohmann::json line = {{"id", row.id},
                                   {"action", row.action},
                                   {"path", row.path},
                                   {"url", urls},
                                   {"attempts", row.attempts},
                                   {"last_status", row.last_status},
                                   {"last_error", row.last_error},
                                   {"died_at", died}};
      std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      continue;
    }
    std::cout << row.id << "  " << died << "  " << (row.action.empty() ? "?" : row.action) << "  "
              << display_value(row.path) << "\n    url " << urls << "  last status "
              << (row.last_status ? std::to_string(row.last_status) : std::string("none"))
              << (row.last_error.empty() ? "" : ": " + display_value(row.last_error)) << "\n";
  }
  if (!json) std::cout << rows->size() << " dead letter(s)\n";
  return 0;
}

int test_hook_command(const Config& config, const std::string& folder_path) {
  std::string folder = folder_path;
  while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
  const FolderRule* rule = nullptr;
  for (const FolderRule& r : config.folders) {
    if (r.path == folder) rule = &r;
  }
  if (!rule) {
    std::string message = "folderhook test-hook: '" + folder_path + "' is not a folder of " +
                          config.file + "; its folders are:";
    for (const FolderRule& r : config.folders) message += " " + r.path;
    std::cerr << one_terminal_line(message) << "\n";
    return 2;
  }
  watch::FileAction action;
  action.action = watch::Action::kCreate;
  action.path = rule->path + "/folderhook-test-hook.txt";
  action.at = std::chrono::system_clock::now();
  action.username = "folderhook";
  delivery::Request request = make_request(action, *rule, config.root);
  request.fields.emplace_back("test", "1");
  if (!rule->body_template.empty()) {
    // Sent as rendered: the receiver's fixed format has no place for a test member. The path
    // (folderhook-test-hook.txt) tells it apart.
  } else if (request.method == "POST") {
    nlohmann::json body = nlohmann::json::parse(request.body);
    body["test"] = 1;
    request.body = body.dump();
  } else {
    request.query += "&test=1";
  }
  delivery::DispatcherOptions options;
  options.timeout = config.delivery.timeout;
  options.success = config.delivery.exactly_200 ? delivery::SuccessPolicy::kExactly200
                                                : delivery::SuccessPolicy::kAny2xx;
  options.user_agent = "folderhook/" FOLDERHOOK_VERSION;
  options.ca_file = config.delivery.ca_file;
  bool any_ok = false;
  for (const auto& result : delivery::send_test(request, options)) {
    any_ok = any_ok || result.ok;
    // A NATS URL has no status: its acknowledgement is the answer; an exec: URL's is its exit.
    const bool exec = result.url.rfind("exec:", 0) == 0;
    // The error may quote the receiver's or the command's own words: one line whatever they hold.
    std::cout << one_terminal_line(
                     result.url + ": " +
                     (result.status ? std::to_string(result.status)
                      : exec        ? std::string(result.ok ? "exit status 0" : "failed")
                      : result.ok   ? std::string("acknowledged")
                                    : std::string("no answer")) +
                     " in " + std::to_string(result.ms) + " ms" + (result.ok ? ", accepted" : "") +
                     (result.error.empty() ? "" : ": " + result.error))
              << "\n";
  }
  return any_ok ? 0 : 1;
}

int behaviors_dry_run_command(const Config& config) {
  size_t count = 0;
  for (const FolderRule& folder : config.folders) {
    for (size_t i = 0; i < folder.behaviors.size(); ++i) {
      const Behavior& behavior = folder.behaviors[i];
      std::vector<std::string> errors;
      const auto entries = list_tree(folder.path, errors);
      for (const std::string& e : errors) std::cerr << "warning: " << one_terminal_line(e) << "\n";
      for (const PlannedOp& op :
           plan_behavior(folder, behavior, entries, std::chrono::system_clock::now())) {
        ++count;
        switch (op.kind) {
          case PlannedOp::Kind::kDelete: std::cout << "delete " << display_value(op.path); break;
          case PlannedOp::Kind::kMove:
            std::cout << "move " << display_value(op.path) << " -> " << display_value(op.destination);
            break;
          case PlannedOp::Kind::kRemoveDir: std::cout << "rmdir " << display_value(op.path); break;
        }
        std::cout << "   (" << behavior.kind << " #" << i << " of " << display_value(folder.path) << ")\n";
      }
    }
  }
  std::cout << count << " operation(s) would be done now; nothing was changed\n";
  return 0;
}

}  // namespace folderhook::agent
