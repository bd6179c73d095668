#include "tests/support/webdav_server.h"

#include "tests/support/smtp_server.h"

namespace folderhook::test {

WebdavServer::WebdavServer(const std::string& root) {
  const std::string d = dir_.path();
  // www-data writes the bodies; nginx makes its other temp paths itself at start.
  if (!set_up("nginx", "chmod 755 " + d + " && mkdir " + d + "/body && chown www-data " + d +
                           "/body")) {
    return;
  }
  std::string temp_paths;
  for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    temp_paths += std::string("  ") + kind + "_temp_path " + d + "/" +
                  (std::string(kind) == "client_body" ? "body" : kind) + ";\n";
  }
  write_file(d + "/nginx.conf",
             "user www-data;\ndaemon off;\nworker_processes 1;\npid " + d + "/nginx.pid;\n"
             "error_log " + d + "/error.log;\nevents { worker_connections 64; }\nhttp {\n"
             "  access_log off;\n" + temp_paths + "  server {\n    listen 127.0.0.1:" +
                 std::to_string(port_) + ";\n    root " + root +
                 ";\n    location / { dav_methods PUT DELETE MKCOL COPY MOVE; }\n  }\n}\n");
  // daemon off: the child's pid is the master's. -e: not even the start may write to
  // /var/log/nginx.
  if (!process_.start({"/usr/sbin/nginx", "-e", d + "/error.log", "-c", d + "/nginx.conf"},
                      d + "/nginx.out", port_)) {
    why_ = process_.why() + read_file(d + "/error.log");
  }
}

std::string WebdavServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace folderhook::test
