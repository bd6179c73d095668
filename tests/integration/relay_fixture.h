// What the relay's integration tests share: a JetStream server with stream FILES, relay files,
// operations published as an agent's NATS URL publishes them, and reading what the relays did.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/agent_process.h"
#include "tests/support/nats_server.h"
#include "tests/support/receiver.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace folderhook::test::relay_fixture {

using namespace std::chrono_literals;


// An operation as an agent's NATS URL publishes it (delivery/payload.h): the JSON object of
// its fields, Nats-Msg-Id = webhook-id.
inline StreamMessage operation(int i, const std::string& dir = "/in") {
  StreamMessage m;
  m.subject = "files.create";
  m.data = nlohmann::json{{"action", "create"},
                          {"interface", "sftp"},
                          {"path", dir + "/f" + std::to_string(i) + " a&b.txt"},
                          {"at", "2026-12-03T10:00:00+00:00"},
                          {"username", "alice"},
                          {"type", "file"}}
               .dump();
  const std::string id = "msg_relay" + std::to_string(i);
  m.headers = {{"Nats-Msg-Id", id}, {"webhook-id", id}, {"Content-Type", "application/json"}};
  return m;
}

inline std::vector<StreamMessage> operations(int from, int to, const std::string& dir = "/in") {
  std::vector<StreamMessage> out;
  for (int i = from; i < to; ++i) out.push_back(operation(i, dir));
  return out;
}

// Writes a relay's file in `dir` that reads stream FILES through `servers` ("nats://h:p,...")
// with consumer "hooks"; `folders` holds [[folder]] tables, `extra` more tables or [relay] keys
// (given first in [relay] when they do not start with '[').
inline std::string relay_file(const TempDir& dir, const std::string& name,
                              const std::string& servers, const std::string& folders,
                              const std::string& delivery = "timeout = \"2s\"\n",
                              const std::string& extra = "") {
  const std::string file = dir / name;
  const bool relay_keys = !extra.empty() && extra.front() != '[';
  write_file(file, "[agent]\nstatus_listen = \"127.0.0.1:0\"\n\n[relay]\nsource = \"" + servers +
                       "/FILES\"\nconsumer = \"hooks\"\n" + (relay_keys ? extra : "") +
                       "\n[delivery]\n" + delivery + "\n" + (relay_keys ? "" : extra) + "\n" +
                       folders);
  return file;
}

inline std::unique_ptr<AgentProcess> start_relay(const TempDir& dir, const std::string& file,
                                                 const std::string& log) {
  auto p = std::make_unique<AgentProcess>(std::vector<std::string>{"relay", "--config", file},
                                          dir / log);
  REQUIRE_MESSAGE(p->wait_for_output("\"msg\":\"relaying\""), p->output());
  return p;
}

// A JetStream server with stream FILES (files.>).
struct RelaySetup {
  TempDir dir;
  NatsServer server;
  std::string servers = "nats://" + server.host_port();

  RelaySetup() {
    REQUIRE(server.started());
    REQUIRE(add_stream(servers, "FILES", {"files.>"}) == "");
  }
  std::string write(const std::string& name, const std::string& folders,
                    const std::string& delivery = "timeout = \"2s\"\n",
                    const std::string& extra = "") {
    return relay_file(dir, name, servers, folders, delivery, extra);
  }
  std::unique_ptr<AgentProcess> start(const std::string& file, const std::string& log) {
    return start_relay(dir, file, log);
  }
};

inline std::string folder(const std::string& path, const std::string& url,
                   const std::string& more = "") {
  return "[[folder]]\npath = \"" + path + "\"\nurls = [\"" + url + "\"]\n" + more + "\n";
}

inline size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

inline nlohmann::json relay_status(const std::string& file) {
  std::string out;
  if (run_folderhook({"status", "--config", file, "--json"}, out) != 0) return {{"error", out}};
  return nlohmann::json::parse(out, nullptr, false);
}

// webhook-id -> how many requests carried it.
inline std::map<std::string, int> ids_received(const Receiver& receiver) {
  std::map<std::string, int> ids;
  for (const Webhook& w : receiver.received()) ++ids[w.header("webhook-id")];
  return ids;
}

// Checks that `receiver` got each of `count` paths under one webhook-id only (a message sent
// twice, by a relay killed before its acknowledgement left, keeps its id).
inline void check_one_id_per_path(const Receiver& receiver, size_t count) {
  std::map<std::string, std::set<std::string>> ids_by_path;
  for (const Webhook& w : receiver.received()) {
    ids_by_path[w.param("path")].insert(w.header("webhook-id"));
  }
  CHECK(ids_by_path.size() == count);
  for (const auto& [path, ids] : ids_by_path) {
    CAPTURE(path);
    CHECK(ids.size() == 1);
  }
}

// The relay's status endpoint, from its "relaying" line.
inline int status_port_of(AgentProcess& relay) {
  const std::string out = relay.output();
  const auto at = out.find("\"status_listen\":\"127.0.0.1:");
  REQUIRE(at != std::string::npos);
  return std::stoi(out.substr(at + 27));
}

inline std::vector<nlohmann::json> dead_letters(const std::string& file) {
  std::string out;
  std::vector<nlohmann::json> rows;
  if (run_folderhook({"dead-letters", "--config", file, "--json"}, out) != 0) return rows;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line, nullptr, false));
  }
  return rows;
}


}  // namespace folderhook::test::relay_fixture
