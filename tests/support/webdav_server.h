// WebdavServer: nginx on 127.0.0.1 (a free port) serving a directory with its WebDAV module
// (`dav_methods PUT DELETE MKCOL COPY MOVE`), workers running as www-data as Debian's package
// runs them. Needs root. The client is curl (url()).
#pragma once

#include <string>

#include "tests/support/server_process.h"

namespace folderhook::test {

class WebdavServer : public RealServer {
 public:
  // Serves `root` (URL /x is root/x). A PUT's body is written under a temporary directory of
  // this server, on the same filesystem as `root` when both are under $TMPDIR (or /tmp): nginx
  // then renames it onto its target, as it does in production with client_body_temp_path.
  explicit WebdavServer(const std::string& root);
  // "http://127.0.0.1:PORT" + path (which starts with '/').
  std::string url(const std::string& path) const;
};

}  // namespace folderhook::test
