// What the no-loss tests share: each distinct delivery counted by what it says, the agent's log
// lines, the rules for a backend, and the kernel queue's limit lowered for one agent.
#pragma once

#include <fcntl.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/support/running_agent.h"

namespace folderhook::test::no_loss {

using namespace std::chrono_literals;

// "create /in/a", "move /in/a -> /in/b": paths relative to the temporary directory.
inline std::string describe(const Webhook& hook, const std::string& base) {
  const auto rel = [&](std::string path) {
    return path.rfind(base, 0) == 0 ? path.substr(base.size()) : path;
  };
  std::string out = hook.param("action") + " " + rel(hook.param("path"));
  if (hook.has("destination")) out += " -> " + rel(hook.param("destination"));
  return out;
}

// Each distinct delivery once (by webhook-id), counted by what it says.
inline std::map<std::string, int> distinct(const Receiver& receiver, const std::string& base) {
  std::set<std::string> ids;
  std::map<std::string, int> out;
  for (const Webhook& hook : receiver.received()) {
    if (!ids.insert(hook.header("webhook-id")).second) continue;
    ++out[describe(hook, base)];
  }
  return out;
}

// What differs, for the failure message: "missing create /in/a", "extra destroy /in/b x2".
inline std::string difference(const std::map<std::string, int>& got,
                       const std::map<std::string, int>& expected) {
  std::string out;
  for (const auto& [what, n] : expected) {
    const auto it = got.find(what);
    if (it == got.end()) out += "missing " + what + "\n";
    else if (it->second != n) out += what + " x" + std::to_string(it->second) + "\n";
  }
  for (const auto& [what, n] : got) {
    if (!expected.count(what)) out += "extra " + what + " x" + std::to_string(n) + "\n";
  }
  return out;
}

// Waits until `done` holds for the distinct deliveries, or the deadline passes.
template <typename Done>
std::map<std::string, int> wait_distinct(const RunningAgent& r, Done done,
                                         std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto got = distinct(r.receiver, r.dir.path());
  while (!done(got) && std::chrono::steady_clock::now() < deadline) {
    r.receiver.wait_for(r.receiver.count() + 1, 500ms);
    got = distinct(r.receiver, r.dir.path());
  }
  return got;
}

inline std::vector<nlohmann::json> log_lines(const std::string& output, const std::string& msg) {
  std::vector<nlohmann::json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("msg", "") == msg) out.push_back(json);
  }
  return out;
}

// A live operation after everything else: once it arrives, the catch-up (submitted before any
// live action) has been committed, and its first attempts started before this one's.
inline void sentinel(RunningAgent& r) {
  write_file(r.in + "/sentinel", "s");
  const auto got = wait_distinct(r, [](const auto& g) { return g.count("create /in/sentinel"); });
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(got.count("create /in/sentinel"));
}

// Several connections: these tests count deliveries, not their order.
inline const std::string kDelivery = "retry = [\"200ms\", \"400ms\"]\nconnections = 8\n";

// Each scenario runs on both backends.
inline std::string rules_for(const std::string& backend, const std::string& agent_extra = "") {
  return rules_template(kDelivery, "", "backend = \"" + backend + "\"\n" + agent_extra);
}

// Why fanotify cannot run here ("" when it can): the tests that need it say SKIPPED with it.
inline std::string fanotify_refusal() {
  const int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, O_RDONLY);
  if (fd < 0) return std::string("fanotify_init: ") + std::strerror(errno);
  ::close(fd);
  return "";
}

inline bool backend_here(const std::string& backend) {
  if (backend != "fanotify") return true;
  const std::string why = fanotify_refusal();
  if (!why.empty()) MESSAGE("SKIPPED: the kernel refuses fanotify: " << why);
  return why.empty();
}

// Starts the agent and waits until its catch-up is out (fanotify says "watching" before).
inline void start_caught_up(RunningAgent& r) {
  r.start();
  INFO("agent log:\n" << r.agent->output());
  REQUIRE(r.agent->wait_for_output("\"msg\":\"catch-up done\""));
}

// Lowers fs.<kernel>.max_queued_events and always puts the old value back. The kernel reads it
// when an inotify or fanotify instance is created, so it is held only until the agent watches.
class QueueLimit {
 public:
  QueueLimit(const std::string& backend, int events)
      : path_("/proc/sys/fs/" + backend + "/max_queued_events") {
    std::ifstream in(path_);
    in >> saved_;
    REQUIRE(saved_ > 0);
    write(events);
  }
  ~QueueLimit() { restore(); }
  QueueLimit(const QueueLimit&) = delete;
  QueueLimit& operator=(const QueueLimit&) = delete;
  void restore() {
    if (saved_ > 0) write(saved_);
    saved_ = 0;
  }

 private:
  void write(int value) const {
    std::ofstream out(path_);
    out << value << "\n";
  }
  std::string path_;
  int saved_ = 0;
};

}  // namespace folderhook::test::no_loss
