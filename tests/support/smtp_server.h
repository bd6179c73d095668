// SmtpServer: a real SMTP server for tests, Debian's python3-aiosmtpd run by /usr/bin/python3
// as a child process on 127.0.0.1, writing each message it accepts into a maildir.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace folderhook::test {

// A port on 127.0.0.1 where nothing listens, free at the time of asking.
int unused_port();

class SmtpServer {
 public:
  explicit SmtpServer(int port = 0);  // 0: a free port
  ~SmtpServer();                      // stops it
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  bool started() const { return started_; }
  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> messages() const;  // raw RFC 5322 texts

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool started_ = false;
};

}  // namespace folderhook::test
