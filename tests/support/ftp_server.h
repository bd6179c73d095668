// FtpServer: vsftpd on 127.0.0.1 (a free control port and one free passive port) where one
// user logs in with a password. Needs root. vsftpd forks a session process per login, which
// runs as the user (comm `vsftpd`). The client is curl (url()).
#pragma once

#include <string>

#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace folderhook::test {

class FtpServer {
 public:
  // `user` exists (TestUser); it is given a password and `home` as its home directory (vsftpd
  // refuses a login whose home it cannot enter).
  FtpServer(const std::string& user, const std::string& home);
  FtpServer(const FtpServer&) = delete;
  FtpServer& operator=(const FtpServer&) = delete;

  bool started() const { return why_.empty(); }
  // Why it did not start (with vsftpd's output), "" when it did.
  const std::string& why() const { return why_; }
  // "ftp://USER:PASSWORD@127.0.0.1:PORT"; append "/" + an absolute path for that path.
  std::string url() const;

 private:
  TempDir dir_;
  std::string user_;
  std::string password_;
  int port_ = 0;
  std::string why_;
  ServerProcess process_;  // last: stopped before dir_ is removed
};

}  // namespace folderhook::test
