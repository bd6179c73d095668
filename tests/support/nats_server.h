// Real NATS servers for tests: Debian's nats-server as child processes on 127.0.0.1 (free
// ports, JetStream stores in the test's temp tree, stopped by pid), a three-node JetStream
// cluster, and reading a stream back with nats.c.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace folderhook::test {

class NatsServer {
 public:
  struct Options {
    bool jetstream = true;  // false: publishes to JetStream get no answer
    std::string token;      // required of every client
    std::string tls_cert;   // with tls_key (PEM files): the server speaks only TLS ("tls://...")
    std::string tls_key;
    std::string extra_config;  // appended to the config file (e.g. an operator and resolver)
  };
  // Started.
  explicit NatsServer(const Options& options);
  explicit NatsServer(bool jetstream = true, const std::string& token = "")
      : NatsServer(Options{jetstream, token, "", "", ""}) {}
  ~NatsServer();  // stops it (SIGTERM, then waits)
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  bool started() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  std::string host_port() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }  // -1 when stopped
  // Ends it with `signal` (SIGTERM waits for a clean stop) and reaps it.
  void stop(int signal);
  // Starts it again, same port and store; true when it accepts connections.
  bool start();

 private:
  friend class NatsCluster;
  NatsServer(const std::string& config, int port, const std::string& dir);

  std::unique_ptr<TempDir> own_dir_;
  std::string config_file_;
  std::string log_file_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Three JetStream servers clustered on loopback; `servers()` is "h:p,h:p,h:p".
class NatsCluster {
 public:
  NatsCluster();
  bool started() const;
  NatsServer& node(size_t i) { return *nodes_[i]; }
  std::string servers() const;

 private:
  TempDir dir_;
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

struct StreamMessage {
  uint64_t seq = 0;
  std::string subject;
  std::string data;
  std::map<std::string, std::string> headers;
};

// The .creds file the helpers below connect with ("" = none, the default): for a server that
// requires decentralized authentication (nats_credentials.h).
void set_reader_credentials(const std::string& creds_file);

// `servers`: "nats://h:p" or "nats://h:p,h:p,..."; "tls://..." connects over TLS without
// verifying the server (the test's own reader; what the agent verifies is under test). Creates a stream (file storage) and waits
// until JetStream accepts it (a cluster elects its leaders first). max_msgs > 0: a stream that
// holds at most that many and refuses new ones beyond (discard new). "" or the error.
std::string add_stream(const std::string& servers, const std::string& name,
                       const std::vector<std::string>& subjects, int replicas = 1,
                       int64_t duplicate_window_s = 120, int64_t max_msgs = 0);
// Every message in the stream, in order; `error` set (and nothing returned) when it cannot.
std::vector<StreamMessage> read_stream(const std::string& servers, const std::string& name,
                                       std::string& error);
// How many messages the stream holds, -1 when it cannot be asked.
int64_t stream_count(const std::string& servers, const std::string& name);

}  // namespace folderhook::test

namespace folderhook::test {

// Publishes each message (subject, data, headers) into JetStream and waits for each
// acknowledgement; "" or the first error.
std::string publish_messages(const std::string& servers, const std::vector<StreamMessage>& messages);

}  // namespace folderhook::test
