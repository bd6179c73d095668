// RunningAgent: the real binary on a fresh folder `in`, delivering to a Receiver of the test.
// The rules file is a template: {IN}, {STATE}, {DIR} and {URL} are replaced by the folder, the
// state_dir, the temporary directory and the receiver's URL.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/agent_process.h"
#include "tests/support/receiver.h"
#include "tests/support/temp_dir.h"

namespace folderhook::test {

// A minimal rules file; `delivery` and `folder` are extra lines for those tables.
std::string rules_template(const std::string& delivery = "", const std::string& folder = "",
                           const std::string& agent = "");

// The status endpoint's port, from the agent's `watching` line (status_listen = "HOST:0").
int status_port(AgentProcess& agent);

struct RunningAgent {
  TempDir dir;
  Receiver receiver;
  std::string in = dir / "in";
  std::unique_ptr<AgentProcess> agent;

  explicit RunningAgent(const std::string& rules = rules_template(), bool start_now = true);

  std::string expand(std::string rules) const;
  void write_rules(const std::string& rules);
  void start();
  // Waits for `n` webhooks in all and returns the n-th (1-based); fails the test with the
  // agent's log when they do not come.
  Webhook nth(size_t n);
  // "action /path [/destination]" of every webhook in the order received, paths relative to
  // the folder `in`.
  std::vector<std::string> operations() const;
};

}  // namespace folderhook::test
