#include "tests/support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace folderhook::test {

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool ServerProcess::start(const std::vector<std::string>& argv, const std::string& log, int port,
                          std::chrono::milliseconds timeout) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (pid_ < 0) {
    why_ = "fork failed";
    return false;
  }
  bool exited = false;
  const bool listening = wait_until(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exited = true;
          pid_ = -1;
          return true;
        }
        return accepts_connections(port);
      },
      timeout);
  if (listening && !exited) return true;
  why_ = argv[0] + (exited ? " exited" : " did not listen on 127.0.0.1:" + std::to_string(port)) +
         "; its log:\n" + read_file(log);
  stop();
  return false;
}

ServerProcess::~ServerProcess() { stop(); }

RealServer::RealServer() : port_(unused_port()) {}

bool RealServer::set_up(const std::string& what, const std::string& setup) {
  const std::string log = dir_ / "setup.log";
  if (shell("(" + setup + ") >" + log + " 2>&1") == 0) return true;
  why_ = "cannot set " + what + " up: " + read_file(log);
  return false;
}

void ServerProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  // A server that does not stop in time is killed: a test never hangs on it.
  if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; })) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

}  // namespace folderhook::test
