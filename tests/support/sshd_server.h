// SshdServer: OpenSSH's sshd on 127.0.0.1 (a free port) with sftp-server as its sftp subsystem,
// where one user logs in with a key made for this server alone. Needs root (sshd's privilege
// separation, unlocking the user). The client is OpenSSH's sftp, run by sftp_batch().
#pragma once

#include <string>

#include "tests/support/server_process.h"

namespace folderhook::test {

class SshdServer : public RealServer {
 public:
  // `user` exists (TestUser); its account is unlocked (`usermod -p '*'`: a useradd user is
  // locked, and sshd refuses a locked account even with a key).
  explicit SshdServer(const std::string& user);
  // Runs `sftp -b batch_file` as root, logged in as the user with its key; returns the exit
  // status, with the client's output in `output`. sftp stops at the first command that fails.
  int sftp_batch(const std::string& batch_file, std::string& output) const;

 private:
  std::string user_;
};

}  // namespace folderhook::test
