// FtpServer: vsftpd on 127.0.0.1 (a free control port and one free passive port) where one
// user logs in with a password. Needs root. vsftpd forks a session process per login, which
// runs as the user (comm `vsftpd`). The client is curl (url()).
#pragma once

#include <string>

#include "tests/support/server_process.h"

namespace folderhook::test {

class FtpServer : public RealServer {
 public:
  // `user` exists (TestUser); it is given a password and `home` as its home directory (vsftpd
  // refuses a login whose home it cannot enter).
  FtpServer(const std::string& user, const std::string& home);
  // "ftp://USER:PASSWORD@127.0.0.1:PORT"; append "/" + an absolute path for that path.
  std::string url() const;

 private:
  std::string user_;
  std::string password_;
};

}  // namespace folderhook::test
