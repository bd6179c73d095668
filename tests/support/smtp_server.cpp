#include "tests/support/smtp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/server_process.h"
#include "tests/support/wait.h"

namespace folderhook::test {

using namespace std::chrono_literals;

int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

SmtpServer::SmtpServer(int port) {
  port_ = port != 0 ? port : unused_port();
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  // Maildir creates its tmp/new/cur only when the directory does not exist yet.
  const std::string maildir = dir_ / "mail";
  pid_ = ::fork();
  if (pid_ == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen.c_str(), "-c",
            "aiosmtpd.handlers.Mailbox", maildir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when it accepts a connection.
  started_ = wait_until([&] { return accepts_connections(port_); }, 10s);
}

SmtpServer::~SmtpServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::vector<std::string> SmtpServer::messages() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& sub : {"new", "cur"}) {
    const auto dir = std::filesystem::path(dir_ / "mail") / sub;
    if (!std::filesystem::exists(dir, ec)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
  }
  return out;
}

}  // namespace folderhook::test
