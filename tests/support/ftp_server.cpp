#include "tests/support/ftp_server.h"

#include <unistd.h>

#include "tests/support/smtp_server.h"

namespace folderhook::test {

FtpServer::FtpServer(const std::string& user, const std::string& home)
    : user_(user), password_("pw" + std::to_string(::getpid())) {
  const std::string d = dir_.path();
  if (!set_up("vsftpd", "echo '" + user + ":" + password_ + "' | chpasswd && usermod -d " + home +
                            " " + user + " && mkdir " + d + "/empty")) {
    return;
  }
  // seccomp_sandbox, isolate and isolate_network off: containers refuse vsftpd's sandbox and
  // namespaces. One passive port, free when asked: each transfer's data connection uses it.
  const int passive = unused_port();
  write_file(d + "/vsftpd.conf",
             "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port=" +
                 std::to_string(port_) +
                 "\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\nwrite_enable=YES\n"
                 "local_umask=022\nseccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\n"
                 "pasv_enable=YES\npasv_address=127.0.0.1\npasv_min_port=" +
                 std::to_string(passive) + "\npasv_max_port=" + std::to_string(passive) +
                 "\nsecure_chroot_dir=" + d + "/empty\nxferlog_enable=NO\n");
  // background=NO: the child's pid is the listener's.
  if (!process_.start({"/usr/sbin/vsftpd", d + "/vsftpd.conf"}, d + "/vsftpd.out", port_)) {
    why_ = process_.why();
  }
}

std::string FtpServer::url() const {
  return "ftp://" + user_ + ":" + password_ + "@127.0.0.1:" + std::to_string(port_);
}

}  // namespace folderhook::test
