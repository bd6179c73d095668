#include "tests/support/sshd_server.h"

#include "tests/support/smtp_server.h"

namespace folderhook::test {

SshdServer::SshdServer(const std::string& user) : user_(user) {
  const std::string d = dir_.path();
  // sshd reads authorized_keys with the user's rights: the directory is open to everyone, the
  // keys' private halves stay 0600 (root's client refuses a key others can read).
  const std::string setup =
      "mkdir -p /run/sshd && usermod -p '*' " + user + " && chmod 755 " + d +
      " && ssh-keygen -q -t ed25519 -N '' -f " + d + "/host_key && ssh-keygen -q -t ed25519 " +
      "-N '' -f " + d + "/user_key && cp " + d + "/user_key.pub " + d + "/authorized_keys && " +
      "chmod 644 " + d + "/authorized_keys";
  if (!set_up("sshd", setup)) return;
  write_file(d + "/sshd_config",
             "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " + d +
                 "/host_key\nPidFile none\nUsePAM no\nPasswordAuthentication no\n"
                 "KbdInteractiveAuthentication no\nPermitRootLogin no\nStrictModes no\n"
                 "AuthorizedKeysFile " + d + "/authorized_keys\nAllowUsers " + user + "\n"
                 "Subsystem sftp /usr/lib/openssh/sftp-server\n");
  // -D: in the foreground, so that the child's pid is the listener's.
  if (!process_.start({"/usr/sbin/sshd", "-D", "-f", d + "/sshd_config", "-E", d + "/sshd.log"},
                      d + "/sshd.out", port_)) {
    why_ = process_.why() + read_file(d + "/sshd.log");
  }
}

int SshdServer::sftp_batch(const std::string& batch_file, std::string& output) const {
  const std::string out = dir_ / "sftp.out";
  const int status = shell(
      "sftp -F /dev/null -b " + batch_file + " -i " + dir_ / "user_key" + " -P " +
      std::to_string(port_) + " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null " +
      "-o BatchMode=yes -o LogLevel=ERROR " + user_ + "@127.0.0.1 >" + out + " 2>&1");
  output = read_file(out);
  return status;
}

}  // namespace folderhook::test
