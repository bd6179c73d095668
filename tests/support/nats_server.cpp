#include "tests/support/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <nats/nats.h>

#include "tests/support/server_process.h"
#include "tests/support/smtp_server.h"
#include "tests/support/wait.h"

namespace folderhook::test {
namespace {

using namespace std::chrono_literals;

std::string reader_creds;

// A connection and its JetStream context, freed together.
struct Js {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit Js(const std::string& servers) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    std::vector<std::string> list;
    std::string rest = servers.substr(servers.find("://") + 3);
    for (size_t start = 0;;) {
      const size_t comma = rest.find(',', start);
      list.push_back(servers.substr(0, servers.find("://") + 3) + rest.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    std::vector<const char*> ptrs;
    for (const auto& s : list) ptrs.push_back(s.c_str());
    natsOptions_SetServers(o, ptrs.data(), static_cast<int>(ptrs.size()));
    natsOptions_SetTimeout(o, 2000);
    if (!reader_creds.empty()) natsOptions_SetUserCredentialsFromFiles(o, reader_creds.c_str(), nullptr);
    if (servers.rfind("tls://", 0) == 0) {
      natsOptions_SetSecure(o, true);
      natsOptions_SkipServerVerification(o, true);
    }
    if (natsConnection_Connect(&nc, o) == NATS_OK) {
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = 5000;
      natsConnection_JetStream(&js, nc, &jo);
    }
    natsOptions_Destroy(o);
  }
  ~Js() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

}  // namespace

void set_reader_credentials(const std::string& creds_file) { reader_creds = creds_file; }

NatsServer::NatsServer(const Options& options)
    : own_dir_(std::make_unique<TempDir>()) {
  std::string rest;
  if (!options.token.empty()) rest += "authorization { token: \"" + options.token + "\" }\n";
  if (!options.tls_cert.empty()) {
    rest += "tls { cert_file: \"" + options.tls_cert + "\"\n key_file: \"" + options.tls_key + "\" }\n";
  }
  rest += options.extra_config;
  if (options.jetstream) rest += "jetstream { store_dir: \"" + *own_dir_ / "js" + "\" }\n";
  config_file_ = *own_dir_ / "nats.conf";
  log_file_ = *own_dir_ / "nats.log";
  // The free port can be taken by another test's server before this one binds it (tests run in
  // parallel): that server then exits, and another port is tried.
  for (int attempt = 0; attempt < 5 && !started(); ++attempt) {
    port_ = unused_port();
    write_file(config_file_, "listen: 127.0.0.1:" + std::to_string(port_) + "\n" + rest);
    start();
  }
}

NatsServer::NatsServer(const std::string& config, int port, const std::string& dir)
    : port_(port) {
  config_file_ = dir + "/nats.conf";
  log_file_ = dir + "/nats.log";
  write_file(config_file_, config);
  start();
}

NatsServer::~NatsServer() { stop(SIGTERM); }

void NatsServer::stop(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool NatsServer::start() {
  if (pid_ > 0) return true;
  pid_ = ::fork();
  if (pid_ == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl("/usr/sbin/nats-server", "nats-server", "-c", config_file_.c_str(), "-l",
            log_file_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready means this process said so in its log, not only that the port answers: another
  // process may be listening there (then this one exits, unable to bind it).
  const std::string ready_line = "[" + std::to_string(pid_) + "] ";
  bool exited = false;
  const bool up = wait_until(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) exited = true;
        if (exited) return true;
        const std::string log = read_file(log_file_);
        for (size_t at = log.find(ready_line); at != std::string::npos;
             at = log.find(ready_line, at + 1)) {
          const std::string line = log.substr(at, log.find('\n', at) - at);
          if (line.find("Server is ready") != std::string::npos) return accepts_connections(port_);
        }
        return false;
      },
      10s);
  if (exited) {
    pid_ = -1;  // reaped above
    return false;
  }
  if (!up) stop(SIGKILL);
  return up;
}

NatsCluster::NatsCluster() {
  int ports[3], routes[3];
  for (int i = 0; i < 3; ++i) {
    ports[i] = unused_port();
    routes[i] = unused_port();
  }
  for (int i = 0; i < 3; ++i) {
    const std::string dir = dir_ / ("n" + std::to_string(i));
    shell("mkdir -p " + dir);
    std::string config = "server_name: n" + std::to_string(i) + "\nlisten: 127.0.0.1:" +
                         std::to_string(ports[i]) + "\njetstream { store_dir: \"" + dir +
                         "/js\" }\ncluster {\n  name: folderhook_test\n  listen: 127.0.0.1:" +
                         std::to_string(routes[i]) + "\n  routes: [";
    for (int j = 0; j < 3; ++j) {
      if (j != i) config += "\n    nats-route://127.0.0.1:" + std::to_string(routes[j]);
    }
    config += "\n  ]\n}\n";
    nodes_.push_back(std::unique_ptr<NatsServer>(new NatsServer(config, ports[i], dir)));
  }
}

bool NatsCluster::started() const {
  for (const auto& n : nodes_) {
    if (!n->started()) return false;
  }
  return true;
}

std::string NatsCluster::servers() const {
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + n->host_port();
  return out;
}

std::string add_stream(const std::string& servers, const std::string& name,
                       const std::vector<std::string>& subjects, int replicas,
                       int64_t duplicate_window_s, int64_t max_msgs) {
  std::string error = "not tried";
  std::vector<const char*> subj;
  for (const auto& s : subjects) subj.push_back(s.c_str());
  // A fresh cluster answers "JetStream not ready" until it has elected its meta leader.
  wait_until(
      [&] {
        Js c(servers);
        if (c.js == nullptr) {
          error = "cannot connect to " + servers;
          return false;
        }
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        cfg.Name = name.c_str();
        cfg.Subjects = subj.data();
        cfg.SubjectsLen = static_cast<int>(subj.size());
        cfg.Replicas = replicas;
        cfg.Storage = js_FileStorage;
        cfg.Duplicates = duplicate_window_s * 1'000'000'000;
        if (max_msgs > 0) {
          cfg.MaxMsgs = max_msgs;
          cfg.Discard = js_DiscardNew;
        }
        jsStreamInfo* si = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const natsStatus s = js_AddStream(&si, c.js, &cfg, nullptr, &code);
        jsStreamInfo_Destroy(si);
        if (s == NATS_OK) {
          error.clear();
          return true;
        }
        error = std::string("js_AddStream: ") + natsStatus_GetText(s) + " (code " +
                std::to_string(static_cast<int>(code)) + ")";
        return false;
      },
      30s);
  return error;
}

int64_t stream_count(const std::string& servers, const std::string& name) {
  Js c(servers);
  if (c.js == nullptr) return -1;
  jsStreamInfo* si = nullptr;
  if (js_GetStreamInfo(&si, c.js, name.c_str(), nullptr, nullptr) != NATS_OK) return -1;
  const auto n = static_cast<int64_t>(si->State.Msgs);
  jsStreamInfo_Destroy(si);
  return n;
}

std::vector<StreamMessage> read_stream(const std::string& servers, const std::string& name,
                                       std::string& error) {
  std::vector<StreamMessage> out;
  Js c(servers);
  if (c.js == nullptr) {
    error = "cannot connect to " + servers;
    return out;
  }
  // A cluster whose node just came back may move the stream's leader: a request can time out
  // or be refused meanwhile, and is made again until the deadline. NATS_OK, or the last failure.
  auto ask = [](auto&& request) {
    natsStatus status = NATS_OK;
    wait_until([&] { return (status = request()) == NATS_OK; }, std::chrono::seconds(30));
    return status;
  };
  jsStreamInfo* si = nullptr;
  const natsStatus info =
      ask([&] { return js_GetStreamInfo(&si, c.js, name.c_str(), nullptr, nullptr); });
  if (info != NATS_OK) {
    error = "no stream " + name + ": " + natsStatus_GetText(info);
    return out;
  }
  const uint64_t first = si->State.FirstSeq;
  const uint64_t last = si->State.LastSeq;
  const uint64_t count = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  for (uint64_t seq = first; count > 0 && seq <= last; ++seq) {
    natsMsg* msg = nullptr;
    const natsStatus got =
        ask([&] { return js_GetMsg(&msg, c.js, name.c_str(), seq, nullptr, nullptr); });
    if (got != NATS_OK) {
      error = "cannot read message " + std::to_string(seq) + ": " + natsStatus_GetText(got);
      out.clear();
      return out;
    }
    StreamMessage m;
    m.seq = seq;
    m.subject = natsMsg_GetSubject(msg);
    m.data.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    const char** keys = nullptr;
    int n = 0;
    if (natsMsgHeader_Keys(msg, &keys, &n) == NATS_OK) {
      for (int k = 0; k < n; ++k) {
        const char* value = nullptr;
        if (natsMsgHeader_Get(msg, keys[k], &value) == NATS_OK && value != nullptr) {
          m.headers[keys[k]] = value;
        }
      }
      free(keys);
    }
    natsMsg_Destroy(msg);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace folderhook::test

namespace folderhook::test {

std::string publish_messages(const std::string& servers,
                             const std::vector<StreamMessage>& messages) {
  Js c(servers);
  if (c.js == nullptr) return "cannot connect to " + servers;
  for (const StreamMessage& m : messages) {
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, m.subject.c_str(), nullptr, m.data.data(),
                                  static_cast<int>(m.data.size()));
    for (const auto& [name, value] : m.headers) {
      if (s == NATS_OK) s = natsMsgHeader_Set(msg, name.c_str(), value.c_str());
    }
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_PublishMsg(&ack, c.js, msg, nullptr, &code);
    natsMsg_Destroy(msg);
    jsPubAck_Destroy(ack);
    if (s != NATS_OK) {
      return std::string("js_PublishMsg: ") + natsStatus_GetText(s) + " (code " +
             std::to_string(static_cast<int>(code)) + ")";
    }
  }
  return "";
}

}  // namespace folderhook::test
