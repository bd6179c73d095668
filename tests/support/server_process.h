// ServerProcess: a real server a test starts as its child on 127.0.0.1 (in the foreground, so
// that the child's pid is the server's) and stops by that pid. What the matrix of real servers
// (sshd, vsftpd, nginx) shares: start, wait until it accepts connections, stop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace folderhook::test {

class ServerProcess {
 public:
  ServerProcess() = default;
  // Stops it: SIGTERM, then SIGKILL if it has not exited within 10 s. sshd, vsftpd and nginx's
  // master each stop their own listener on SIGTERM; nginx's master also waits for its workers.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Runs argv[0] (an absolute path) with stdout and stderr appended to `log`, then waits until
  // 127.0.0.1:port accepts a connection. False, with why() saying so and quoting the log, when
  // the program exits first or does not listen within `timeout`.
  bool start(const std::vector<std::string>& argv, const std::string& log, int port,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  pid_t pid() const { return pid_; }
  const std::string& why() const { return why_; }

 private:
  void stop();

  pid_t pid_ = -1;
  std::string why_;
};

// True when something accepts a TCP connection on 127.0.0.1:port.
bool accepts_connections(int port);

// What each real server of the matrix (SshdServer, FtpServer, WebdavServer) holds: a private
// directory for its configuration and logs, a free port, why it did not start, and its process
// (stopped before the directory is removed). A server sets itself up in its constructor and
// says why in why_ when it cannot.
class RealServer {
 public:
  RealServer(const RealServer&) = delete;
  RealServer& operator=(const RealServer&) = delete;

  bool started() const { return why_.empty(); }
  // Why it did not start (with the server's log), "" when it did.
  const std::string& why() const { return why_; }
  int port() const { return port_; }

 protected:
  RealServer();  // a free port
  ~RealServer() = default;
  // Runs the shell command line `setup` (its output in the directory's setup.log); false, with
  // why_ saying `what` could not be set up and quoting that log, when it fails.
  bool set_up(const std::string& what, const std::string& setup);

  TempDir dir_;
  int port_;
  std::string why_;
  ServerProcess process_;  // last: stopped before dir_ is removed
};

}  // namespace folderhook::test
