// The Agent's [accounts] part (agent_loop.h): the users-and-groups watch on the loop, and its
// changes handed to the dispatcher through the submission pipeline, in order with the folders'.
#include <chrono>

#include "agent/agent_loop.h"

namespace folderhook::agent::detail {
namespace {

// Who changed an account, as reported. Only root can replace /etc/passwd or /etc/group (the
// directory is root's, mode 0755), so the writing process's user is root whatever the backend;
// its login user is not knowable after the fact (useradd and friends exit within milliseconds,
// before /proc/PID could be read). README "Users and groups".
constexpr std::string_view kAccountsUsername = "root";

}  // namespace

void Agent::start_accounts() {
  if (!config_.accounts) return;
  AccountsWatchOptions options;
  options.state_dir = config_.state_dir;
  accounts_ = std::make_unique<AccountsWatch>(
      &loop_, options,
      [this](std::vector<AccountChange>&& changes, bool catch_up, AccountsWatch::Commit commit) {
        on_account_changes(std::move(changes), catch_up, std::move(commit));
      },
      logger());
  std::string error;
  if (!accounts_->start(error)) {
    // The folders are still watched: a problem of [accounts] alone does not stop them.
    log_.write("error", "accounts: cannot watch; users and groups are not reported",
               {{"error", error}});
    accounts_.reset();
    return;
  }
  log_.write("info", "accounts: watching", {{"dir", options.dir}});
}

void Agent::on_account_changes(std::vector<AccountChange>&& changes, bool catch_up,
                               AccountsWatch::Commit commit) {
  if (!config_.accounts) return;  // never: a reload keeps [accounts] while the watch runs
  const auto at = std::chrono::system_clock::now();
  SubmissionBatch batch;
  nlohmann::json list = nlohmann::json::array();
  for (const AccountChange& change : changes) {
    batch.requests.push_back(
        make_account_request(change, *config_.accounts, kAccountsUsername, at, catch_up));
    list.push_back(change.action + " " + change.type + " " + change.name);
  }
  log_.write("info", "accounts: changes",
             {{"rule", config_.accounts->path}, {"catch_up", catch_up}, {"changes", list}});
  pipeline_->push(std::move(batch));
  // The snapshot is saved once these requests are committed (or not, if they cannot be).
  SubmissionBatch saved;
  saved.after_commit = std::move(commit);
  pipeline_->push(std::move(saved));
}

}  // namespace folderhook::agent::detail
