#include "agent/agent.h"
#include "agent/wall_clock.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "agent/agent_loop.h"
#include "agent/delivery_log.h"

namespace folderhook::agent {
namespace {

constexpr uint64_t kHeartbeatMs = 1000;
constexpr unsigned kRulesPollMs = 1000;

// The directories to watch: each folder's, as `links` (in the same order) resolve it.
std::vector<watch::RootOptions> roots_of(const Config& config, const FolderLinks& links) {
  std::vector<watch::RootOptions> roots;
  for (size_t i = 0; i < config.folders.size(); ++i) {
    roots.push_back({links[i].watched, config.folders[i].temp_patterns,
                     config.folders[i].permissions});
  }
  return roots;
}

std::set<std::string> folder_paths(const Config& config) {
  std::set<std::string> paths;
  for (const FolderRule& rule : config.folders) paths.insert(rule.path);
  return paths;
}

bool same_roots(const Config& a, const FolderLinks& a_links, const Config& b,
                const FolderLinks& b_links) {
  const auto x = roots_of(a, a_links), y = roots_of(b, b_links);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].path != y[i].path || x[i].temp_patterns != y[i].temp_patterns ||
        x[i].permissions != y[i].permissions) {
      return false;
    }
  }
  return true;
}

}  // namespace

namespace detail {

int Agent::run() {
  if (const int rc = uv_loop_init(&loop_); rc != 0) {
    return cannot_start("cannot start the event loop", uv_strerror(rc));
  }
  std::string error;
  delivery::DispatcherOptions delivery_options = dispatcher_options();
  delivery_options.attempt_logger = attempt_logger();
  dispatcher_ = delivery::open_dispatcher(std::move(delivery_options), logger(), error);
  if (!dispatcher_) {
    uv_loop_close(&loop_);
    return cannot_start("cannot open the outbox", error);
  }
  start_pipeline();
  metrics_.set_loop_alive_ms(now_ms());
  if (!config_.status_listen.empty()) {
    status_ = std::make_unique<StatusServer>(metrics_, config_.state_dir);
    if (!status_->start(config_.status_listen, error)) {
      dispatcher_->shutdown();
      uv_loop_close(&loop_);
      return cannot_start("cannot start the status endpoint", error);
    }
  }

  watch::WatchOptions options;
  links_ = resolve_folder_links(config_.folders);
  log_links(links_, {});
  options.roots = roots_of(config_, links_);
  options.ignore_paths.push_back(config_.state_dir);
  if (!config_.log_file.empty()) options.ignore_paths.push_back(config_.log_file);
  options.interfaces = config_.interfaces;
  watcher_ = start_watcher(std::move(options), error);
  if (!watcher_) {
    status_.reset();
    dispatcher_->shutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);  // the close callbacks of a watcher that failed to start
    uv_loop_close(&loop_);
    return cannot_start("cannot watch the folders", error);
  }

  start_signal(sigint_, SIGINT);
  start_signal(sigterm_, SIGTERM);
  start_signal(sighup_, SIGHUP);
  uv_timer_init(&loop_, &heartbeat_);
  heartbeat_.data = this;
  uv_timer_start(&heartbeat_, [](uv_timer_t* t) { static_cast<Agent*>(t->data)->beat(); },
                 0, kHeartbeatMs);
  uv_fs_poll_init(&loop_, &rules_poll_);
  rules_poll_.data = this;
  uv_fs_poll_start(&rules_poll_, [](uv_fs_poll_t* h, int, const uv_stat_t*, const uv_stat_t*) {
    static_cast<Agent*>(h->data)->reload("the rules file changed");
  }, config_.file.c_str(), kRulesPollMs);

  start_accounts();
  uv_timer_init(&loop_, &behavior_timer_);
  behavior_timer_.data = this;
  // The behaviors wait for the catch-up (on_ready): their operations must meet a watcher
  // that sees them. fanotify watches everything once its marks are placed: it says so now.
  if (live_at_start_) watching();

  uv_run(&loop_, UV_RUN_DEFAULT);

  // Everything the watcher reported has been submitted; shutdown commits it before returning,
  // so a stop loses nothing that was ever seen.
  dispatcher_->shutdown();
  status_.reset();
  const int rc = uv_loop_close(&loop_);
  log_.write("info", "stopped", {{"loop_closed", rc == 0}});
  return 0;
}

int Agent::cannot_start(std::string_view msg, const std::string& error) {
  log_.write("error", msg, {{"error", error}});
  if (!config_.log_file.empty()) std::cerr << "folderhook: " << msg << ": " << error << "\n";
  return 2;
}

// Says that every operation from here on will be reported.
void Agent::watching() {
  nlohmann::json folders = nlohmann::json::array();
  for (const FolderRule& rule : config_.folders) folders.push_back(rule.path);
  nlohmann::json fields = {{"folders", folders}, {"state_dir", config_.state_dir},
                           {"config", config_.file}};
  if (status_) fields["status_port"] = status_->port();
  log_.write("info", "watching", fields);
  // /readyz: the figures first, so that it never sees "watching" with the start's stale ones.
  refresh_metrics();
  metrics_.set_watching();
}

// Each folder given as a symlink, by both its names: at start, and at a reload for those new
// or pointing elsewhere than `before` said.
void Agent::log_links(const FolderLinks& links, const FolderLinks& before) {
  for (const FolderLink& link : links) {
    if (link.watched == link.path) continue;
    const bool known = std::any_of(before.begin(), before.end(), [&](const FolderLink& b) {
      return b.path == link.path && b.watched == link.watched;
    });
    if (!known) {
      log_.write("info", "watched folder is a symlink; watching the directory it points to",
                 {{"path", link.path}, {"target", link.watched}});
    }
  }
}

delivery::DispatcherOptions Agent::dispatcher_options() const {
  delivery::DispatcherOptions o;
  o.state_dir = config_.state_dir;
  o.timeout = config_.delivery.timeout;
  o.retry = config_.delivery.retry;
  o.success = config_.delivery.exactly_200 ? delivery::SuccessPolicy::kExactly200
                                           : delivery::SuccessPolicy::kAny2xx;
  o.user_agent = "folderhook/" FOLDERHOOK_VERSION;
  o.first_senders = config_.delivery.connections;
  o.pipeline_depth = config_.delivery.pipelining ? delivery::kPipelineDepth : 1;
  o.ca_file = config_.delivery.ca_file;
  o.window = config_.delivery.in_memory;
  o.notify.smtp_url = config_.notify.smtp_url;
  o.notify.from = config_.notify.from;
  o.notify.to = config_.notify.to;
  return o;
}

// agent.backend: "auto" takes fanotify when it starts (marks and the actor of each operation),
// else inotify; an explicit "fanotify" that cannot start is an error. Logs the choice.
std::unique_ptr<watch::Watcher> Agent::start_watcher(watch::WatchOptions options,
                                                     std::string& error) {
  const auto sink = [this](std::vector<watch::FileAction>&& actions) {
    on_actions(std::move(actions));
  };
  std::string reason = "agent.backend = \"inotify\"";
  options.catch_up = catch_up_options();
  if (config_.backend != "inotify") {
    auto watcher = watch::start_fanotify_watcher(&loop_, options, sink, logger(), error);
    if (watcher) {
      // The marks are live: every operation from here on is reported, and what changed
      // while nothing watched follows from the catch-up.
      live_at_start_ = true;
      robot_ledger_.watcher_misses_own_operations();
      log_.write("info", "watch backend",
                 {{"backend", "fanotify"},
                  {"reason", config_.backend == "auto"
                                 ? "auto: fanotify started (filesystem marks; who did each "
                                   "operation)"
                                 : "agent.backend = \"fanotify\""}});
      return watcher;
    }
    if (config_.backend == "fanotify") {
      error = "agent.backend = \"fanotify\" cannot start: " + error;
      return nullptr;
    }
    reason = "auto: fanotify cannot start (" + error + "); inotify instead";
    error.clear();
  }
  auto watcher = watch::start_inotify_watcher(&loop_, std::move(options), sink, logger(), error);
  if (watcher) log_.write("info", "watch backend", {{"backend", "inotify"}, {"reason", reason}});
  return watcher;
}

Logger Agent::logger() {
  return [this](std::string_view level, std::string_view msg, const nlohmann::json& fields) {
    log_.write(level, msg, fields);
  };
}

delivery::AttemptLogger Agent::attempt_logger() {
  return [this](std::vector<delivery::AttemptLog>& entries) {
    std::vector<std::string> lines;
    lines.reserve(entries.size());
    for (const delivery::AttemptLog& entry : entries) {
      metrics_.count_attempt(delivery::attempt_outcome(entry), entry.ms);
      lines.push_back(attempt_line(log_, entry));
    }
    log_.write_lines(std::move(lines));  // one wake-up of the log thread for the commit's lines
  };
}

void Agent::beat() {
  metrics_.set_loop_alive_ms(now_ms());
  refresh_metrics();
}

void Agent::refresh_metrics() {
  watch::WatchStats stats = watcher_->stats();
  // fanotify says `watching` before its start scan has looked for the roots: the folders are
  // looked at here too (a stat each, once a second), so /readyz is never 200 for a missing one.
  uint64_t missing = 0;
  for (const FolderLink& link : links_) {
    std::error_code ec;
    if (!std::filesystem::is_directory(link.watched, ec)) ++missing;
  }
  stats.missing_roots = std::max(stats.missing_roots, missing);
  metrics_.set_watcher(stats);
  const delivery::MemoryFigures memory = dispatcher_->memory();
  metrics_.set_outbox(memory.outbox_failing, memory.uncommitted);
}

// A valid rules file replaces the rules at once; an invalid one is logged and the old rules
// stay. Runs on the loop between two batches of actions, so every action is routed by
// exactly one version of the rules.
void Agent::reload(std::string_view why) {
  std::vector<ConfigError> errors;
  std::optional<Config> next = load_config(config_.file, errors);
  if (next) check_environment(*next, errors);
  if (!errors.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const ConfigError& e : errors) list.push_back(e.to_string());
    log_.write("error", "rules not reloaded; the old rules stay in force",
               {{"why", why}, {"errors", list}});
    return;
  }
  std::string error;
  if (!log_.open(next->log_file, error)) {
    log_.write("error", "cannot reopen the log file", {{"error", error}});
  }
  log_.set_text(next->log_format == "text");
  nlohmann::json ignored = nlohmann::json::array();
  if (next->state_dir != config_.state_dir) ignored.push_back("agent.state_dir");
  if (next->status_listen != config_.status_listen) ignored.push_back("agent.status_listen");
  if (next->delivery.timeout != config_.delivery.timeout ||
      next->delivery.retry != config_.delivery.retry ||
      next->delivery.exactly_200 != config_.delivery.exactly_200 ||
      next->delivery.connections != config_.delivery.connections ||
      next->delivery.pipelining != config_.delivery.pipelining ||
      next->delivery.ca_file != config_.delivery.ca_file ||
      next->notify.smtp_url != config_.notify.smtp_url || next->notify.to != config_.notify.to ||
      next->notify.from != config_.notify.from) {
    ignored.push_back("[delivery] and [notify]");
  }
  if (next->backend != config_.backend) ignored.push_back("agent.backend");
  if (next->interfaces != config_.interfaces) ignored.push_back("[interfaces]");
  if (next->accounts.has_value() != config_.accounts.has_value()) {
    ignored.push_back("[accounts]");  // added or removed: its watch starts or stops at a restart
    next->accounts = config_.accounts;
  }
  next->backend = config_.backend;
  next->interfaces = config_.interfaces;
  next->state_dir = config_.state_dir;
  next->status_listen = config_.status_listen;
  next->delivery = config_.delivery;
  next->notify = config_.notify;
  nlohmann::json added = nlohmann::json::array(), removed = nlohmann::json::array();
  std::string waits;
  FolderLinks next_links = resolve_folder_links(next->folders);
  if (!same_roots(*next, next_links, config_, links_)) {
    // Watched and caught up (new folders), forgotten (gone ones): the watcher does both.
    if (watcher_->set_roots(roots_of(*next, next_links), waits)) {
      for (const std::string& path : folder_paths(*next)) {
        if (!folder_paths(config_).count(path)) added.push_back(path);
      }
      for (const std::string& path : folder_paths(config_)) {
        if (!folder_paths(*next).count(path)) removed.push_back(path);
      }
    } else {
      // Not now (the start catch-up runs): the old folders stay, and so does their routing,
      // until on_ready reads the rules again.
      next->folders = config_.folders;
      next_links = links_;
      roots_waiting_ = true;
    }
  }
  log_links(next_links, links_);
  links_ = std::move(next_links);
  config_ = std::move(*next);
  if (expect_) expect_->set_config(config_);
  if (has_behaviors()) {
    const auto every = static_cast<uint64_t>(config_.behavior_interval.count());
    uv_timer_start(&behavior_timer_, [](uv_timer_t* t) {
      static_cast<Agent*>(t->data)->start_behaviors();
    }, every, every);
  } else {
    uv_timer_stop(&behavior_timer_);
  }
  nlohmann::json fields = {{"why", why}, {"folders", config_.folders.size()}};
  if (!added.empty()) fields["folders_added"] = added;
  if (!removed.empty()) fields["folders_removed"] = removed;
  if (!waits.empty()) fields["folders_unchanged_until_catch_up"] = waits;
  if (!ignored.empty()) fields["needs_restart"] = ignored;
  log_.write("info", "rules reloaded", fields);
}

void Agent::start_signal(uv_signal_t& handle, int signum) {
  uv_signal_init(&loop_, &handle);
  handle.data = this;
  uv_signal_start(&handle, [](uv_signal_t* h, int sig) {
    auto* agent = static_cast<Agent*>(h->data);
    if (sig == SIGHUP) agent->reload("SIGHUP");
    else agent->stop(sig);
  }, signum);
}

void Agent::stop(int signum) {
  if (stopping_) return;
  stopping_ = true;
  log_.write("info", "stopping", {{"signal", signum == SIGINT ? "SIGINT" : "SIGTERM"}});
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&sigint_),
                         reinterpret_cast<uv_handle_t*>(&sigterm_),
                         reinterpret_cast<uv_handle_t*>(&sighup_),
                         reinterpret_cast<uv_handle_t*>(&heartbeat_),
                         reinterpret_cast<uv_handle_t*>(&behavior_timer_),
                         reinterpret_cast<uv_handle_t*>(&rules_poll_)}) {
    uv_close(h, nullptr);
  }
  if (expect_) expect_->close();
  watcher_->close([] {});
  if (accounts_) accounts_->close();
}

}  // namespace detail

int run_agent(Config config, Log& log) {
  std::signal(SIGPIPE, SIG_IGN);
  detail::Agent agent(std::move(config), log);
  return agent.run();
}

}  // namespace folderhook::agent
