// The matrix of real servers: OpenSSH's sshd with sftp-server, vsftpd and nginx's WebDAV, each
// started here on 127.0.0.1 and driven by its real client (OpenSSH's sftp in batch mode, curl),
// on both backends. Each session does what a person does with such a server: upload, upload
// over it, download, rename, mkdir, rename into that subdirectory, delete, rmdir (and for SFTP a
// `rename -l`, for WebDAV a COPY). The test states the exact webhooks those operations are
// (action, path, destination, type, interface, username) and fails on any more or any fewer.
// The expectation is what the person did, whatever the server's system calls look like.
// A session is one login held open until its last webhook is in (SessionGate says why), and
// each step waits for its webhooks before the next (Session says why).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <future>
#include <memory>
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

// One step of a session: the client's command for it ({IN} and {DIR} stand for the folder and
// the test's directory) and the webhooks it must give.
struct Step {
  std::string command;
  std::vector<Row> rows;
};

// A session drives a server's client through `steps` on r.in. After each step it calls
// `after(k)`, which waits until the webhooks of steps 0..k are in, and after the last one it
// calls `end()` while its server process is still there.
//
// Why each step waits for its webhooks, as a person sees an upload finish before the next one:
// at machine pace the agent (an ASan build on 2 shared cores) reads the kernel's records a few
// ms late, and the kernel then says less than the person did. fanotify merges the queued
// closes of one process on one file (an upload, the upload over it and its download in a row
// came as one create, 2 runs in 20), and inotify watches a new directory only once it has read
// its CREATE (a rename into it before that gives no MOVED_TO). The step-by-step expectation is
// unchanged: the exact list of webhooks is checked at the end.
using Session = std::function<void(const RunningAgent& r, const std::vector<Step>& steps,
                                   const std::function<void(size_t)>& after,
                                   const std::function<void()>& end)>;

// Runs `session` against a fresh agent and checks that exactly the steps' rows are reported. The
// end is a hard link made after the last step: the agent names a link 200 ms after its CREATE
// (it gets no close), later than anything the session left waiting (a read held in case it was
// a copy's source, a file closed while another descriptor was open), so once the link's webhook
// is in, every webhook of the session is too.
void check_session(const std::string& backend, const Actor& actor,
                   const std::string& interfaces_table, const Session& session,
                   const std::vector<Step>& steps) {
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

  std::vector<Row> rows;
  std::vector<size_t> through;  // webhooks expected once step k is done
  std::vector<Step> expanded;
  for (const Step& step : steps) {
    rows.insert(rows.end(), step.rows.begin(), step.rows.end());
    through.push_back(rows.size());
    expanded.push_back({r.expand(step.command), step.rows});
  }
  // Not a REQUIRE: a step that gives fewer webhooks than expected is shown by the comparison.
  const auto after = [&](size_t k) { r.receiver.wait_for(through.at(k), std::chrono::seconds(5)); };
  const std::string end = r.in + "/zz-end";
  bool ended = false;
  session(r, expanded, after, [&] {
    REQUIRE(folderhook::test::shell("ln " + r.dir / "end.local " + end) == 0);
    INFO("agent log:\n" << r.agent->output());
    REQUIRE(folderhook::test::wait_until(
        [&] {
          for (const Webhook& hook : r.receiver.received()) {
            if (hook.param("action") == "create" && hook.param("path") == end) return true;
          }
          return false;
        },
        std::chrono::seconds(15)));
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

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// One gate after each step (one FIFO each: a reader still closing the last one could be taken
// for the next one's). Declared after the client's future, so that they are destroyed, and the
// client let go, before the future waits for it.
std::vector<std::unique_ptr<SessionGate>> gates_for(const RunningAgent& r, size_t steps) {
  std::vector<std::unique_ptr<SessionGate>> gates;
  for (size_t k = 0; k < steps; ++k) {
    gates.push_back(std::make_unique<SessionGate>(r.dir / ("gate-" + std::to_string(k))));
    REQUIRE(gates.back()->made());
  }
  return gates;
}

// Walks a client held at each gate through the steps.
void walk_gates(std::vector<std::unique_ptr<SessionGate>>& gates,
                const std::function<void(size_t)>& after, const std::function<void()>& end) {
  for (size_t k = 0; k < gates.size(); ++k) {
    INFO("step " << k);
    REQUIRE(gates[k]->reached());
    after(k);
    if (k + 1 == gates.size()) end();
    gates[k]->release();
  }
}

void sftp_session(const std::string& backend) {
  if (!can_run(backend, {"/usr/sbin/sshd", "/usr/bin/sftp", "/usr/lib/openssh/sftp-server"})) {
    return;
  }
  TestUser user;
  if (!user.available()) return;
  SshdServer sshd(user.name());
  REQUIRE_MESSAGE(sshd.started(), sshd.why());
  // One login; after each command the batch waits at its gate (`!` runs a local command while
  // the session stays open).
  const auto session = [&](const RunningAgent& r, const std::vector<Step>& steps,
                           const std::function<void(size_t)>& after,
                           const std::function<void()>& end) {
    std::string output;
    std::future<int> client;
    auto gates = gates_for(r, steps.size());
    std::string batch;
    for (size_t k = 0; k < steps.size(); ++k) {
      batch += steps[k].command + "\n!read x < " + gates[k]->path() + "\n";
    }
    folderhook::test::write_file(r.dir / "batch", batch);
    client = std::async(std::launch::async,
                        [&] { return sshd.sftp_batch(r.dir / "batch", output); });
    walk_gates(gates, after, end);
    INFO("sftp:\n" << output);
    CHECK(client.get() == 0);
    CHECK(folderhook::test::read_file(r.dir / "got.local") == "second, longer version");
  };
  // `rename` uses the posix-rename@openssh.com extension (rename(2)); `rename -l` the plain
  // SSH_FXP_RENAME, which sftp-server does as link(2) + unlink(2).
  check_session(backend, {"sftp", user.name()}, "", session,
                {{"put {DIR}/a.local {IN}/a.txt", {{"create", "/in/a.txt", "", "file"}}},
                 {"put {DIR}/b.local {IN}/a.txt", {{"update", "/in/a.txt", "", "file"}}},
                 {"get {IN}/a.txt {DIR}/got.local", {{"read", "/in/a.txt", "", "file"}}},
                 {"rename {IN}/a.txt {IN}/b.txt", {{"move", "/in/a.txt", "/in/b.txt", "file"}}},
                 {"mkdir {IN}/sub", {{"create", "/in/sub", "", "directory"}}},
                 {"rename {IN}/b.txt {IN}/sub/b.txt",
                  {{"move", "/in/b.txt", "/in/sub/b.txt", "file"}}},
                 {"rename -l {IN}/sub/b.txt {IN}/sub/c.txt",
                  {{"move", "/in/sub/b.txt", "/in/sub/c.txt", "file"}}},
                 {"rm {IN}/sub/c.txt", {{"destroy", "/in/sub/c.txt", "", "file"}}},
                 {"rmdir {IN}/sub", {{"destroy", "/in/sub", "", "directory"}}}});
}

void ftp_session(const std::string& backend) {
  if (!can_run(backend, {"/usr/sbin/vsftpd", "/usr/bin/curl"})) return;
  TestUser user;
  if (!user.available()) return;
  // One login for the whole session: curl reuses it for each URL after --next. After each step
  // an upload from its gate into `outside` (not watched) holds the session.
  const auto session = [&](const RunningAgent& r, const std::vector<Step>& steps,
                           const std::function<void(size_t)>& after,
                           const std::function<void()>& end) {
    FtpServer ftp(user.name(), r.dir.path());
    REQUIRE_MESSAGE(ftp.started(), ftp.why());
    std::future<int> client;
    auto gates = gates_for(r, steps.size());
    std::string command = "curl";
    for (size_t k = 0; k < steps.size(); ++k) {
      command += (k == 0 ? " -sS -f " : " --next -sS -f ") + steps[k].command + " --next -sS -f -T " +
                 gates[k]->path() + " {FTP}" + r.dir / "outside/held-" + std::to_string(k);
    }
    command += " 2>" + r.dir / "curl.err";
    // ftp://HOST//abs/path: an absolute path.
    replace_all(command, "{FTP}", ftp.url() + "/");
    client = std::async(std::launch::async, [command] { return folderhook::test::shell(command); });
    walk_gates(gates, after, end);
    INFO("curl:\n" << folderhook::test::read_file(r.dir / "curl.err"));
    CHECK(client.get() == 0);
    CHECK(folderhook::test::read_file(r.dir / "got.local") == "second, longer version");
  };
  // -Q sends a command, here with no transfer (-I).
  check_session(backend, {"ftp", user.name()}, "", session,
                {{"-T {DIR}/a.local {FTP}{IN}/a.txt", {{"create", "/in/a.txt", "", "file"}}},
                 {"-T {DIR}/b.local {FTP}{IN}/a.txt", {{"update", "/in/a.txt", "", "file"}}},
                 {"-o {DIR}/got.local {FTP}{IN}/a.txt", {{"read", "/in/a.txt", "", "file"}}},
                 {"-I -Q 'RNFR {IN}/a.txt' -Q 'RNTO {IN}/b.txt' {FTP}",
                  {{"move", "/in/a.txt", "/in/b.txt", "file"}}},
                 {"-I -Q 'MKD {IN}/sub' {FTP}", {{"create", "/in/sub", "", "directory"}}},
                 {"-I -Q 'RNFR {IN}/b.txt' -Q 'RNTO {IN}/sub/b.txt' {FTP}",
                  {{"move", "/in/b.txt", "/in/sub/b.txt", "file"}}},
                 {"-I -Q 'DELE {IN}/sub/b.txt' {FTP}", {{"destroy", "/in/sub/b.txt", "", "file"}}},
                 {"-I -Q 'RMD {IN}/sub' {FTP}", {{"destroy", "/in/sub", "", "directory"}}}});
}

void webdav_session(const std::string& backend) {
  if (!can_run(backend, {"/usr/sbin/nginx", "/usr/bin/curl"})) return;
  // nginx serves WebDAV only here: its process name means dav, as README's [interfaces] says.
  const std::string interfaces =
      "\n[interfaces]\ndav = [\"nginx\"]\nweb = [\"apache2\", \"httpd\", \"lighttpd\"]\n";
  // nginx's workers live as long as the server: each request may be its own curl.
  const auto session = [&](const RunningAgent& r, const std::vector<Step>& steps,
                           const std::function<void(size_t)>& after,
                           const std::function<void()>& end) {
    WebdavServer dav(r.dir.path());
    REQUIRE_MESSAGE(dav.started(), dav.why());
    for (size_t k = 0; k < steps.size(); ++k) {
      std::string command = "curl -sS -f " + steps[k].command;
      replace_all(command, "{DAV}", dav.url(""));
      INFO(command);
      REQUIRE(folderhook::test::shell(command) == 0);
      after(k);
    }
    end();
    CHECK(folderhook::test::read_file(r.dir / "got.local") == "second, longer version");
  };
  const std::string out = "-o /dev/null ";
  check_session(
      backend, {"dav", "www-data"}, interfaces, session,
      // PUT: the body is renamed into place, then closed.
      {{out + "-T {DIR}/a.local {DAV}/in/a.txt", {{"create", "/in/a.txt", "", "file"}}},
       {out + "-T {DIR}/b.local {DAV}/in/a.txt", {{"update", "/in/a.txt", "", "file"}}},
       {"-o {DIR}/got.local {DAV}/in/a.txt", {{"read", "/in/a.txt", "", "file"}}},
       {out + "-X MOVE -H 'Destination: {DAV}/in/b.txt' {DAV}/in/a.txt",
        {{"move", "/in/a.txt", "/in/b.txt", "file"}}},
       {out + "-X MKCOL {DAV}/in/sub/", {{"create", "/in/sub", "", "directory"}}},
       {out + "-X MOVE -H 'Destination: {DAV}/in/sub/b.txt' {DAV}/in/b.txt",
        {{"move", "/in/b.txt", "/in/sub/b.txt", "file"}}},
       {out + "-X COPY -H 'Destination: {DAV}/in/c.txt' {DAV}/in/sub/b.txt",
        {{"copy", "/in/sub/b.txt", "/in/c.txt", "file"}}},
       {out + "-X DELETE {DAV}/in/c.txt", {{"destroy", "/in/c.txt", "", "file"}}},
       {out + "-X DELETE {DAV}/in/sub/b.txt", {{"destroy", "/in/sub/b.txt", "", "file"}}},
       {out + "-X DELETE {DAV}/in/sub/", {{"destroy", "/in/sub", "", "directory"}}}});
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
