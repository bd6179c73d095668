// The matrix of real servers: OpenSSH's sshd with sftp-server, vsftpd and nginx's WebDAV, each
// started here on 127.0.0.1 and driven by its real client (OpenSSH's sftp in batch mode, curl),
// on both backends. Each session does what a person does with such a server: upload, upload
// over it, download, rename, mkdir, rename into that subdirectory, delete, rmdir (and for SFTP a
// `rename -l`, for WebDAV a COPY). The test states the exact webhooks those operations are
// (action, path, destination, type, interface, username) and fails on any more or any fewer.
// The expectation is what the person did, whatever the server's system calls look like.
// A session is one login held open until its last webhook is in (SessionGate says why).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "tests/integration/no_loss.h"
#include "tests/support/ftp_server.h"
#include "tests/support/running_agent.h"
#include "tests/support/session_gate.h"
#include "tests/support/sshd_server.h"
#include "tests/support/test_user.h"
#include "tests/support/wait.h"
#include "tests/support/webdav_server.h"

// A named namespace, not an anonymous one: in a unity batch its names cannot meet another
// test file's.
namespace real_servers {

using folderhook::test::FtpServer;
using folderhook::test::RunningAgent;
using folderhook::test::SessionGate;
using folderhook::test::SshdServer;
using folderhook::test::TestUser;
using folderhook::test::Webhook;
using folderhook::test::WebdavServer;


// One expected webhook, paths relative to the test's directory ("/in/a.txt").
struct Row {
  std::string action;
  std::string path;
  std::string destination;  // "" for all but move and copy
  std::string type;
};

// Who the session's operations must be reported as.
struct Actor {
  std::string interface;  // the server's, as [interfaces] (fanotify) or the folder (inotify) say
  std::string username;   // the login user, or the account the server's workers run as
};

std::string server_line(const std::string& action, const std::string& path,
                        const std::string& destination, const std::string& type,
                        const std::string& interface, const std::string& username) {
  return action + " " + path + (destination.empty() ? "" : " -> " + destination) + " " + type +
         " interface=" + interface + " username=" + username;
}

std::string relative_to(const std::string& path, const std::string& base) {
  return path.rfind(base, 0) == 0 ? path.substr(base.size()) : path;
}

// Every webhook the receiver got, as lines, sorted (connections = 1 keeps the order the agent
// named the operations in, but a read is held 200 ms in case it was a copy's source, so the
// order of nearby operations is not the person's).
std::vector<std::string> reported(const RunningAgent& r, const std::string& skip_path) {
  std::vector<std::string> out;
  for (const Webhook& hook : r.receiver.received()) {
    if (hook.param("path") == skip_path) continue;
    out.push_back(server_line(hook.param("action"), relative_to(hook.param("path"), r.dir.path()),
                              hook.has("destination")
                                  ? relative_to(hook.param("destination"), r.dir.path())
                                  : "",
                              hook.param("type"), hook.param("interface"), hook.param("username")));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> expected_lines(const std::vector<Row>& rows, const Actor& actor) {
  std::vector<std::string> out;
  for (const Row& row : rows) {
    out.push_back(server_line(row.action, row.path, row.destination, row.type, actor.interface,
                              actor.username));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "missing LINE" and "extra LINE", one a line, for the failure message.
std::string difference(const std::vector<std::string>& got,
                       const std::vector<std::string>& expected) {
  std::vector<std::string> missing;
  std::vector<std::string> extra;
  std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  std::string out;
  for (const std::string& line : missing) out += "missing " + line + "\n";
  for (const std::string& line : extra) out += "extra   " + line + "\n";
  return out;
}

// With fanotify the folder says an interface no server maps to, so that each webhook's
// interface can only come from [interfaces]; with inotify (which cannot know the process) the
// folder says the server's, as a folder served by one server would be configured.
std::string server_rules(const std::string& backend, const std::string& interface,
                         const std::string& interfaces_table) {
  const std::string folder_interface = backend == "fanotify" ? "restapi" : interface;
  return "[agent]\nstate_dir = \"{STATE}\"\nstatus_listen = \"\"\nbackend = \"" + backend +
         "\"\n" + interfaces_table + "\n[delivery]\nretry = [\"200ms\"]\n\n[[folder]]\npath = "
         "\"{IN}\"\nurls = [\"{URL}\"]\ninterface = \"" + folder_interface + "\"\n";
}

// True once a webhook of `action` on `path` has come (within a deadline).
bool wait_reported(const RunningAgent& r, const std::string& action, const std::string& path) {
  return folderhook::test::wait_until(
      [&] {
        for (const Webhook& hook : r.receiver.received()) {
          if (hook.param("action") == action && hook.param("path") == path) return true;
        }
        return false;
      },
      std::chrono::seconds(15));
}

// A session: drives a server's client through its operations on r.in, and calls `end()` once,
// after its last operation and while its server process is still there.
using Session = std::function<void(const RunningAgent& r, const std::function<void()>& end)>;

// Runs `session` against a fresh agent and checks that exactly `rows` are reported. The end is
// a hard link made after the session's last operation: the agent names a link 200 ms after its
// CREATE (it gets no close), later than anything the session left waiting (a read held in case
// it was a copy's source, a file closed while another descriptor was open), so once the link's
// webhook is in, every webhook of the session is too.
void check_session(const std::string& backend, const Actor& actor,
                   const std::string& interfaces_table, const Session& session,
                   const std::vector<Row>& rows) {
  RunningAgent r(server_rules(backend, actor.interface, interfaces_table), false);
  // The servers' users write into the folder (and into `outside`, which is not watched); the
  // test's directory is theirs to traverse.
  REQUIRE(folderhook::test::shell("chmod 755 " + r.dir.path() + " && chmod 777 " + r.in +
                                  " && mkdir -m 777 " + r.dir / "outside") == 0);
  folderhook::test::write_file(r.dir / "a.local", "first version");
  folderhook::test::write_file(r.dir / "b.local", "second, longer version");
  folderhook::test::write_file(r.dir / "end.local", "");
  r.start();
  REQUIRE(r.agent->wait_for_output("\"msg\":\"catch-up done\""));

  const std::string end = r.in + "/zz-end";
  bool ended = false;
  session(r, [&] {
    REQUIRE(folderhook::test::shell("ln " + r.dir / "end.local " + end) == 0);
    INFO("agent log:\n" << r.agent->output());
    REQUIRE(wait_reported(r, "create", end));
    ended = true;
  });
  REQUIRE(ended);
  const std::vector<std::string> got = reported(r, end);
  const std::vector<std::string> expected = expected_lines(rows, actor);
  INFO("agent log:\n" << r.agent->output());
  INFO("difference:\n" << difference(got, expected));
  CHECK(got == expected);
}

bool can_run(const std::string& backend, const std::vector<std::string>& programs) {
  for (const std::string& program : programs) {
    if (::access(program.c_str(), X_OK) != 0) {
      MESSAGE("SKIPPED: " << program << " is not installed (./dev test installs it)");
      return false;
    }
  }
  return folderhook::test::no_loss::backend_here(backend);
}

// The next step of one curl session (curl reuses the login for each URL after --next).
std::string curl_step(const std::string& args) { return " --next -sS -f " + args; }

// Each session makes a directory and then moves a file into it. It waits for the directory's
// webhook first, as a person sees the folder before using it: inotify watches a new directory
// only once it has read its CREATE, and a rename into it before that has no MOVED_TO, so it
// could only be named a destroy (nothing says where the file went).

void sftp_session(const std::string& backend) {
  if (!can_run(backend, {"/usr/sbin/sshd", "/usr/bin/sftp", "/usr/lib/openssh/sftp-server"})) {
    return;
  }
  TestUser user;
  if (user.name().empty()) {
    MESSAGE("SKIPPED: no test user: " << user.why());
    return;
  }
  SshdServer sshd(user.name());
  REQUIRE_MESSAGE(sshd.started(), sshd.why());
  const auto session = [&](const RunningAgent& r, const std::function<void()>& end) {
    const std::string in = r.in;
    std::string output;
    std::future<int> client;
    SessionGate made_sub(r.dir / "gate-sub");
    SessionGate done(r.dir / "gate-done");
    REQUIRE((made_sub.made() && done.made()));
    // `rename` uses the posix-rename@openssh.com extension (rename(2)); `rename -l` the plain
    // SSH_FXP_RENAME, which sftp-server does as link(2) + unlink(2). `!` runs a local command
    // while the session stays open.
    folderhook::test::write_file(
        r.dir / "batch",
        "put " + r.dir / "a.local " + in + "/a.txt\nput " + r.dir / "b.local " + in +
            "/a.txt\nget " + in + "/a.txt " + r.dir / "got.local\nrename " + in + "/a.txt " + in +
            "/b.txt\nmkdir " + in + "/sub\n!read x < " + made_sub.path() + "\nrename " + in +
            "/b.txt " + in + "/sub/b.txt\nrename -l " + in + "/sub/b.txt " + in +
            "/sub/c.txt\nrm " + in + "/sub/c.txt\nrmdir " + in + "/sub\n!read x < " +
            done.path() + "\n");
    client = std::async(std::launch::async,
                        [&] { return sshd.sftp_batch(r.dir / "batch", output); });
    REQUIRE(made_sub.reached());
    REQUIRE(wait_reported(r, "create", in + "/sub"));
    made_sub.release();
    REQUIRE(done.reached());
    end();
    done.release();
    INFO("sftp:\n" << output);
    CHECK(client.get() == 0);
    CHECK(folderhook::test::read_file(r.dir / "got.local") == "second, longer version");
  };
  check_session(backend, {"sftp", user.name()}, "", session,
                {{"create", "/in/a.txt", "", "file"},
                 {"update", "/in/a.txt", "", "file"},
                 {"read", "/in/a.txt", "", "file"},
                 {"move", "/in/a.txt", "/in/b.txt", "file"},
                 {"create", "/in/sub", "", "directory"},
                 {"move", "/in/b.txt", "/in/sub/b.txt", "file"},
                 {"move", "/in/sub/b.txt", "/in/sub/c.txt", "file"},  // rename -l
                 {"destroy", "/in/sub/c.txt", "", "file"},
                 {"destroy", "/in/sub", "", "directory"}});
}

void ftp_session(const std::string& backend) {
  if (!can_run(backend, {"/usr/sbin/vsftpd", "/usr/bin/curl"})) return;
  TestUser user;
  if (user.name().empty()) {
    MESSAGE("SKIPPED: no test user: " << user.why());
    return;
  }
  const auto session = [&](const RunningAgent& r, const std::function<void()>& end) {
    FtpServer ftp(user.name(), r.dir.path());
    REQUIRE_MESSAGE(ftp.started(), ftp.why());
    std::future<int> client;
    SessionGate made_sub(r.dir / "gate-sub");
    SessionGate done(r.dir / "gate-done");
    REQUIRE((made_sub.made() && done.made()));
    // One login for the whole session. ftp://HOST//abs/path is an absolute path; -Q sends
    // commands (here with no transfer, -I); an upload from a gate into `outside` holds the
    // session at that point.
    const std::string url = ftp.url() + "/";
    const std::string in = r.in;
    const std::string command =
        "curl -sS -f -T " + r.dir / "a.local " + url + in + "/a.txt" +
        curl_step("-T " + r.dir / "b.local " + url + in + "/a.txt") +
        curl_step("-o " + r.dir / "got.local " + url + in + "/a.txt") +
        curl_step("-I -Q 'RNFR " + in + "/a.txt' -Q 'RNTO " + in + "/b.txt' -Q 'MKD " + in +
                  "/sub' " + url) +
        curl_step("-T " + made_sub.path() + " " + url + r.dir / "outside/held1") +
        curl_step("-I -Q 'RNFR " + in + "/b.txt' -Q 'RNTO " + in + "/sub/b.txt' -Q 'DELE " + in +
                  "/sub/b.txt' -Q 'RMD " + in + "/sub' " + url) +
        curl_step("-T " + done.path() + " " + url + r.dir / "outside/held2") + " 2>" +
        r.dir / "curl.err";
    client = std::async(std::launch::async, [command] { return folderhook::test::shell(command); });
    REQUIRE(made_sub.reached());
    REQUIRE(wait_reported(r, "create", in + "/sub"));
    made_sub.release();
    REQUIRE(done.reached());
    end();
    done.release();
    INFO("curl:\n" << folderhook::test::read_file(r.dir / "curl.err"));
    CHECK(client.get() == 0);
    CHECK(folderhook::test::read_file(r.dir / "got.local") == "second, longer version");
  };
  check_session(backend, {"ftp", user.name()}, "", session,
                {{"create", "/in/a.txt", "", "file"},
                 {"update", "/in/a.txt", "", "file"},
                 {"read", "/in/a.txt", "", "file"},
                 {"move", "/in/a.txt", "/in/b.txt", "file"},
                 {"create", "/in/sub", "", "directory"},
                 {"move", "/in/b.txt", "/in/sub/b.txt", "file"},
                 {"destroy", "/in/sub/b.txt", "", "file"},
                 {"destroy", "/in/sub", "", "directory"}});
}

void webdav_session(const std::string& backend) {
  if (!can_run(backend, {"/usr/sbin/nginx", "/usr/bin/curl"})) return;
  // nginx serves WebDAV only here: its process name means dav, as README's [interfaces] says.
  const std::string interfaces =
      "\n[interfaces]\ndav = [\"nginx\"]\nweb = [\"apache2\", \"httpd\", \"lighttpd\"]\n";
  // nginx's workers live as long as the server: each request may be its own curl.
  const auto session = [&](const RunningAgent& r, const std::function<void()>& end) {
    WebdavServer dav(r.dir.path());
    REQUIRE_MESSAGE(dav.started(), dav.why());
    const auto at = [&](const std::string& path) { return "'" + dav.url(path) + "'"; };
    const auto to = [&](const std::string& path) {
      return "-H 'Destination: " + dav.url(path) + "' ";
    };
    const auto curl = [&](const std::string& args) {
      return folderhook::test::shell("curl -sS -f -o /dev/null " + args) == 0;
    };
    REQUIRE(curl("-T " + r.dir / "a.local " + at("/in/a.txt")));
    REQUIRE(curl("-T " + r.dir / "b.local " + at("/in/a.txt")));
    REQUIRE(folderhook::test::shell("curl -sS -f -o " + r.dir / "got.local " + at("/in/a.txt")) ==
            0);
    CHECK(folderhook::test::read_file(r.dir / "got.local") == "second, longer version");
    REQUIRE(curl("-X MOVE " + to("/in/b.txt") + at("/in/a.txt")));
    REQUIRE(curl("-X MKCOL " + at("/in/sub/")));
    REQUIRE(wait_reported(r, "create", r.in + "/sub"));
    REQUIRE(curl("-X MOVE " + to("/in/sub/b.txt") + at("/in/b.txt")));
    REQUIRE(curl("-X COPY " + to("/in/c.txt") + at("/in/sub/b.txt")));
    REQUIRE(curl("-X DELETE " + at("/in/c.txt")));
    REQUIRE(curl("-X DELETE " + at("/in/sub/b.txt")));
    REQUIRE(curl("-X DELETE " + at("/in/sub/")));
    end();
  };
  check_session(backend, {"dav", "www-data"}, interfaces, session,
                {{"create", "/in/a.txt", "", "file"},  // PUT: body renamed into place, then closed
                 {"update", "/in/a.txt", "", "file"},  // PUT over it
                 {"read", "/in/a.txt", "", "file"},
                 {"move", "/in/a.txt", "/in/b.txt", "file"},
                 {"create", "/in/sub", "", "directory"},
                 {"move", "/in/b.txt", "/in/sub/b.txt", "file"},
                 {"copy", "/in/sub/b.txt", "/in/c.txt", "file"},
                 {"destroy", "/in/c.txt", "", "file"},
                 {"destroy", "/in/sub/b.txt", "", "file"},
                 {"destroy", "/in/sub", "", "directory"}});
}

}  // namespace real_servers

using real_servers::ftp_session;
using real_servers::sftp_session;
using real_servers::webdav_session;

TEST_CASE("real servers: an OpenSSH sftp session is reported operation by operation, inotify") {
  sftp_session("inotify");
}

TEST_CASE("real servers: an OpenSSH sftp session is reported operation by operation, fanotify") {
  sftp_session("fanotify");
}

TEST_CASE("real servers: a vsftpd session is reported operation by operation, inotify") {
  ftp_session("inotify");
}

TEST_CASE("real servers: a vsftpd session is reported operation by operation, fanotify") {
  ftp_session("fanotify");
}

TEST_CASE("real servers: an nginx WebDAV session is reported operation by operation, inotify") {
  webdav_session("inotify");
}

TEST_CASE("real servers: an nginx WebDAV session is reported operation by operation, fanotify") {
  webdav_session("fanotify");
}
