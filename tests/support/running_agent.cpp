#include "tests/support/running_agent.h"

#include <doctest/doctest.h>

namespace folderhook::test {
namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

std::string rules_template(const std::string& delivery, const std::string& folder,
                           const std::string& agent) {
  // No status endpoint unless the test asks: parallel agents would fight over one port.
  const std::string status =
      agent.find("status_listen") == std::string::npos ? "status_listen = \"\"\n" : "";
  return "[agent]\nstate_dir = \"{STATE}\"\n" + status + agent +
         "\n[delivery]\n" + delivery +
         "\n[[folder]]\npath = \"{IN}\"\nurls = [\"{URL}\"]\ninterface = \"sftp\"\n" + folder;
}

int status_port(AgentProcess& agent) {
  const std::string out = agent.output();
  const auto at = out.find("\"status_port\":");
  REQUIRE(at != std::string::npos);
  return std::stoi(out.substr(at + 14));
}

RunningAgent::RunningAgent(const std::string& rules, bool start_now) {
  shell("mkdir " + in);
  write_rules(rules);
  if (start_now) start();
}

std::string RunningAgent::expand(std::string rules) const {
  replace_all(rules, "{IN}", in);
  replace_all(rules, "{STATE}", dir / "state");
  replace_all(rules, "{DIR}", dir.path());
  replace_all(rules, "{URL}", receiver.url());
  return rules;
}

void RunningAgent::write_rules(const std::string& rules) {
  // Written beside and renamed into place, as editors do: the agent never reads half a file.
  write_file(dir / "rules.toml.new", expand(rules));
  REQUIRE(std::rename((dir / "rules.toml.new").c_str(), (dir / "rules.toml").c_str()) == 0);
}

void RunningAgent::start() {
  agent = std::make_unique<AgentProcess>(
      std::vector<std::string>{"run", "--config", dir / "rules.toml"}, dir / "agent.log");
  INFO("agent log:\n" << agent->output());
  REQUIRE(agent->wait_for_output("\"msg\":\"watching\""));
}

Webhook RunningAgent::nth(size_t n) {
  const bool arrived = receiver.wait_for(n);
  INFO("agent log:\n" << agent->output());
  REQUIRE(arrived);
  return receiver.received()[n - 1];
}

std::vector<std::string> RunningAgent::operations() const {
  std::vector<std::string> out;
  for (const Webhook& hook : receiver.received()) {
    std::string line = hook.param("action") + " " + hook.param("path").substr(in.size());
    if (hook.has("destination")) line += " " + hook.param("destination").substr(in.size());
    out.push_back(line);
  }
  return out;
}

}  // namespace folderhook::test
