// The agent as root beside untrusted users, through the real binary: a private state_dir, a
// status endpoint that neither shares its port nor starves, start-up errors on stderr, `check`
// refusing what `run` would fail on, and credentials masked in URLs.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "tests/support/file_mode.h"
#include "tests/support/running_agent.h"
#include "tests/support/wait.h"

using namespace folderhook::test;
using namespace std::chrono_literals;

namespace {

// A TCP socket on 127.0.0.1 (port 0 = any), not yet listening or connected.
int tcp_socket() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  return fd;
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Sends the request line and then a header line every two seconds on `count` connections,
// never ending the headers: what starved the status endpoint's workers.
class Dribblers {
 public:
  Dribblers(int port, int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = tcp_socket();
      const sockaddr_in addr = loopback(port);
      REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
      send_line(fd, "GET /healthz HTTP/1.1\r\n");
      fds_.push_back(fd);
    }
    thread_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      while (!stop_.wait_for(lock, 2s, [this] { return stopping_; })) {
        for (const int fd : fds_) send_line(fd, "X-Slow: 1\r\n");
      }
    });
  }
  ~Dribblers() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    stop_.notify_all();
    thread_.join();
    for (const int fd : fds_) ::close(fd);
  }
  // True when the server answered or closed every connection within `timeout`.
  bool all_ended_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const int fd : fds_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    }
    return true;
  }

 private:
  static void send_line(int fd, const std::string& line) {
    (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  }
  std::vector<int> fds_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

TEST_CASE("the state_dir is 0700 and the outbox, its WAL and SHM and the lock 0600, even with umask 0") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  {
    UmaskFor umask(0);
    r.start();
  }
  write_file(r.in + "/a.txt", "x");
  r.nth(1);
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  const std::string state = r.dir / "state";
  CHECK(mode_of(state) == 0700);
  for (const char* file : {"lock", "outbox.db", "outbox.db-wal", "outbox.db-shm"}) {
    CAPTURE(file);
    CHECK(mode_of(state + "/" + file) == 0600);
  }
}

TEST_CASE("an existing state_dir readable by others is tightened at start, with a log line") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string state = r.dir / "state";
  REQUIRE(shell("mkdir -m 755 " + state + " && touch " + state + "/lock && chmod 644 " + state +
                "/lock") == 0);
  r.start();
  CHECK(r.agent->output().find("\"msg\":\"state_dir was readable by other users; tightened\"") !=
        std::string::npos);
  CHECK(r.agent->output().find(state + "/lock: 0644 -> 0600") != std::string::npos);
  CHECK(mode_of(state) == 0700);
  CHECK(mode_of(state + "/lock") == 0600);
}

TEST_CASE("a state_dir other users can write, or that another user owns, is refused: exit 2, one line") {
  RunningAgent r(rules_template(), /*start_now=*/false);
  const std::string state = r.dir / "state";
  REQUIRE(shell("mkdir -m 777 " + state) == 0);
  std::string out;
  CHECK(run_folderhook({"run", "--config", r.dir / "rules.toml"}, out) == 2);
  CHECK(out == r.dir / "rules.toml" + ":2:13: agent.state_dir '" + state +
                   "' can be written by other users (mode 0777): they could replace the outbox; "
                   "chmod go-w it, or choose another state_dir\n");
  CHECK(run_folderhook({"check", "--config", r.dir / "rules.toml"}, out) == 2);
  if (::geteuid() == 0) {
    REQUIRE(shell("chmod 700 " + state + " && chown nobody " + state) == 0);
    CHECK(run_folderhook({"run", "--config", r.dir / "rules.toml"}, out) == 2);
    CHECK(out.find("belongs to uid ") != std::string::npos);
  }
}

TEST_CASE("check refuses a state_dir it cannot create, an empty retry list and a NUL in a path") {
  TempDir dir;
  REQUIRE(shell("mkdir " + dir / "in" + " && ln -s " + dir / "nowhere" + " " + dir / "link") == 0);
  write_file(dir / "rules.toml", "[agent]\nstate_dir = \"" + dir / "link/state" +
                                     "\"\n[delivery]\nretry = []\n[[folder]]\npath = \"" +
                                     dir / "in" + "\"\nurls = [\"http://127.0.0.1:1/h\"]\n");
  std::string out;
  CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 2);
  CHECK(out.find(dir / "rules.toml" + ":4:9: delivery.retry must list at least one duration") !=
        std::string::npos);
  write_file(dir / "rules.toml", "[agent]\nstate_dir = \"" + dir / "link/state" +
                                     "\"\n[[folder]]\npath = \"" + dir / "in" +
                                     "\"\nurls = [\"http://127.0.0.1:1/h\"]\n");
  CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 2);
  CHECK(out == dir / "rules.toml" + ":2:13: agent.state_dir '" + dir / "link/state" +
                   "' cannot be created (" + dir / "link" + ": File exists)\n");
  write_file(dir / "rules.toml", "[agent]\nstate_dir = \"" + dir / "s\\u0000" +
                                     "\"\n[[folder]]\npath = \"" + dir / "in" +
                                     "\"\nurls = [\"http://127.0.0.1:1/h\"]\n");
  CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 2);
  CHECK(out == dir / "rules.toml" + ":2:13: agent.state_dir must not contain a NUL byte (\\u0000)\n");
}

TEST_CASE("a status_listen port that another server listens on is refused: exit 2, address in use") {
  // Another server that allows port sharing (SO_REUSEPORT), as cpp-httplib's own do.
  const int other = tcp_socket();
  const int yes = 1;
  REQUIRE(::setsockopt(other, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes) == 0);
  sockaddr_in addr = loopback(0);
  REQUIRE(::bind(other, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(other, 5) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(other, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string listen = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  RunningAgent r(rules_template("", "", "status_listen = \"" + listen + "\"\n"),
                 /*start_now=*/false);
  AgentProcess agent({"run", "--config", r.dir / "rules.toml"}, r.dir / "agent.log");
  CHECK(agent.wait_exit(20s) == 2);
  CHECK(agent.output().find("cannot listen on " + listen + ": address in use") !=
        std::string::npos);
  ::close(other);
}

TEST_CASE("/healthz answers while eight clients dribble header lines, and they are cut off") {
  RunningAgent r(rules_template("", "", "status_listen = \"127.0.0.1:0\"\n"));
  const int port = status_port(*r.agent);
  Dribblers dribblers(port, 8);
  // cpp-httplib's workers used to wait on them for ever (each line came within its 5 s read
  // timeout): a /healthz then got no answer at all.
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2s);
  client.set_read_timeout(2s);
  const auto began = std::chrono::steady_clock::now();
  const auto health = client.Get("/healthz");
  const auto took = std::chrono::steady_clock::now() - began;
  REQUIRE(health);
  CHECK(health->status == 200);
  MESSAGE("/healthz answered in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
          << " ms with 8 dribbling clients");
  // Their requests must arrive whole within 2 s: each is answered (400) or closed by then.
  CHECK(dribblers.all_ended_within(6s));
}

TEST_CASE("a start-up error goes to stderr too when log_file is set") {
  RunningAgent r;
  write_file(r.dir / "second.toml",
             r.expand(rules_template("", "", "log_file = \"{DIR}/second.log\"\n")));
  std::string out;
  CHECK(run_folderhook({"run", "--config", r.dir / "second.toml"}, out) == 2);
  const std::string line = "folderhook: cannot open the outbox: state_dir '" + r.dir / "state" +
                           "' is in use by another folderhook agent (pid " +
                           std::to_string(r.agent->pid()) + ")";
  CHECK(out.rfind(line, 0) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(read_file(r.dir / "second.log").find("is in use by another folderhook agent") !=
        std::string::npos);
}

TEST_CASE("a token in a URL's query is masked in the log and in status") {
  std::string rules = rules_template();
  rules.replace(rules.find("{URL}\""), 6, "{URL}?token=s3cr3t&tenant=t1\"");
  RunningAgent r(rules);
  write_file(r.in + "/a.txt", "x");
  CHECK(r.nth(1).param("token") == "s3cr3t");
  REQUIRE(r.agent->wait_for_output("\"outcome\":\"delivered\""));
  CHECK(r.agent->output().find("token=***&tenant=t1") != std::string::npos);
  CHECK(r.agent->output().find("s3cr3t") == std::string::npos);
  std::string out;
  REQUIRE(run_folderhook({"status", "--config", r.dir / "rules.toml", "--json"}, out) == 0);
  CHECK(out.find("token=***&tenant=t1") != std::string::npos);
  CHECK(out.find("s3cr3t") == std::string::npos);
}

TEST_CASE("check warns about a URL password or token in a rules file every user can read") {
  TempDir dir;
  REQUIRE(shell("mkdir " + dir / "in") == 0);
  const std::string warning = "warning: the rules file holds a secret, an Authorization header or "
                              "a URL with a password or token, and every user can read it";
  for (const std::string url : {"http://u:pw@127.0.0.1:1/h", "http://127.0.0.1:1/h?sig=x"}) {
    CAPTURE(url);
    write_file(dir / "rules.toml", "[agent]\nstate_dir = \"" + dir / "state" +
                                       "\"\n[[folder]]\npath = \"" + dir / "in" +
                                       "\"\nurls = [\"" + url + "\"]\n");
    REQUIRE(shell("chmod 644 " + dir / "rules.toml") == 0);
    std::string out;
    CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 0);
    CHECK(out.find(warning) != std::string::npos);
    REQUIRE(shell("chmod 640 " + dir / "rules.toml") == 0);
    CHECK(run_folderhook({"check", "--config", dir / "rules.toml"}, out) == 0);
    CHECK(out.find("warning") == std::string::npos);
  }
}
