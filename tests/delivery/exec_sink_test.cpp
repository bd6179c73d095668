// exec: URLs: the pure parts (exec_url.h) table-tested, and the sink (exec_sink.h) running real
// programs (small shell scripts in a temporary directory): what the child inherits, a program
// that floods stdout, a signal, a program gone, abort() in the middle of a run.
#include "delivery/exec/exec_sink.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "delivery/exec/exec_url.h"
#include "delivery/sink_set.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

using namespace folderhook::delivery;

namespace {

using ExecTempDir = folderhook::test::TempDir;

// A request with the usual fields, for the folder `rule`.
Request exec_request(const std::string& url, const std::string& rule = "/srv/in") {
  Request r;
  r.id = "msg_exec_unit";
  r.urls = {url};
  r.rule = rule;
  r.fields = {{"action", "create"},      {"interface", "sftp"},
              {"path", "/srv/in/a.txt"}, {"at", "2026-12-03T00:00:00+00:00"},
              {"username", "alice"},     {"type", "file"}};
  return r;
}

// An executable shell script at `path`.
std::string exec_test_script(const std::string& path, const std::string& body) {
  folderhook::test::write_file(path, "#!/bin/sh\n" + body + "\n");
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  return path;
}

SinkResult deliver_one(Sink& sink, const Request& request) {
  auto results = sink.deliver({&request}, request.urls.front());
  REQUIRE(results.size() == 1);
  return results.front();
}

SinkOptions quick(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  SinkOptions o;
  o.timeout = timeout;
  return o;
}

}  // namespace

TEST_CASE("an exec: URL is exec: and an absolute path, taken literally") {
  std::string error;
  CHECK(parse_exec_url("exec:/usr/local/bin/on-upload", error) == "/usr/local/bin/on-upload");
  CHECK(parse_exec_url("EXEC:/opt/my hooks/run?x=1", error) == "/opt/my hooks/run?x=1");
  CHECK(is_exec_url("Exec:/x"));
  CHECK_FALSE(is_exec_url("http://h/exec:/x"));
  const std::pair<const char*, const char*> bad[] = {
      {"exec:", "needs the program's absolute path"},
      {"exec:on-upload", "the program 'on-upload' is not an absolute path"},
      {"exec:bin/run --flag", "is not an absolute path"},
      {"exec://usr/bin/x", "write exec:/usr/bin/x (one slash)"},
      {"exec:/usr/bin/", "names a directory"},
  };
  for (const auto& [url, why] : bad) {
    INFO(url);
    error.clear();
    CHECK_FALSE(parse_exec_url(url, error));
    CHECK(error.find(why) != std::string::npos);
    // What check says: the same reason.
    std::string check_error;
    CHECK_FALSE(valid_url(url, check_error));
    CHECK(check_error.find(why) != std::string::npos);
  }
}

TEST_CASE("check refuses an exec: program that is missing, a directory or not executable") {
  ExecTempDir dir;
  folderhook::test::write_file(dir / "plain", "#!/bin/sh\n");
  REQUIRE(::chmod((dir / "plain").c_str(), 0644) == 0);
  exec_test_script(dir / "ok.sh", "exit 0");
  std::string error;
  CHECK(valid_url("exec:" + dir / "ok.sh", error));
  CHECK_FALSE(valid_url("exec:" + dir / "nope", error));
  CHECK(error == "the program '" + dir / "nope" + "' cannot be found: No such file or directory");
  CHECK_FALSE(valid_url("exec:" + dir.path(), error));
  CHECK(error == "the program '" + dir.path() + "' is a directory");
  CHECK_FALSE(valid_url("exec:" + dir / "plain", error));
  CHECK(error == "the program '" + dir / "plain" + "' is not executable (mode 0644)");
  CHECK_FALSE(valid_url("exec:/dev/null", error));
  CHECK(error == "the program '/dev/null' is not a regular file");
}

TEST_CASE("an exec: program's environment is PATH, the id and each field's exact bytes") {
  Request r = exec_request("exec:/bin/true");
  r.fields = {{"action", "move"},
              {"path", "/in/a\nb\xff.txt"},
              {"destination", "/in/c d"},
              {"test", "1"},
              {"odd-name", "v"}};
  CHECK(
      exec_environment(r) ==
      std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "FOLDERHOOK_ID=msg_exec_unit", "FOLDERHOOK_ACTION=move",
                               "FOLDERHOOK_PATH=/in/a\nb\xff.txt", "FOLDERHOOK_DESTINATION=/in/c d",
                               "FOLDERHOOK_TEST=1", "FOLDERHOOK_ODD_NAME=v"});
}

TEST_CASE("an exec: program's stderr becomes one log-safe line") {
  CHECK(exec_stderr_line("") == "");
  CHECK(exec_stderr_line("disk full\n") == "disk full");
  CHECK(exec_stderr_line("line one\r\nline two\n\n\tthree  four ") ==
        "line one line two three four");
  CHECK(exec_stderr_line("bad \xff byte") == "bad \xef\xbf\xbd byte");
  // Cut in the middle of a character at the 2 KB limit: replaced, never an invalid line.
  CHECK(exec_stderr_line("caf\xc3") == "caf\xef\xbf\xbd");
}

TEST_CASE("a lane whose primary is exec: runs one program per call on `connections` threads") {
  const LaneShape shape = lane_shape("exec:/bin/true", 3, 64);
  CHECK(shape.first_senders == 3);
  CHECK(shape.batch == 1);
}

TEST_CASE("an exec: program inherits no descriptor of the agent's and floods stdout freely") {
  ExecTempDir dir;
  // A descriptor the agent might hold without O_CLOEXEC.
  const int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked > 2);
  const std::string program = exec_test_script(
      dir / "fds.sh", "if [ -e /proc/$$/fd/" + std::to_string(leaked) + " ]; then echo open > " +
                          dir / "fd" + "; else echo closed > " + dir / "fd" +
                          "; fi\n"
                          "head -c 8000000 /dev/zero\n"
                          "cat > " +
                          dir / "stdin");
  auto sink = make_exec_sink(quick());
  const auto start = std::chrono::steady_clock::now();
  const SinkResult result = deliver_one(*sink, exec_request("exec:" + program));
  ::close(leaked);
  CHECK(result.verdict == SinkResult::Verdict::kAccepted);
  CHECK(result.error == "");
  CHECK(folderhook::test::read_file(dir / "fd") == "closed\n");
  CHECK(folderhook::test::read_file(dir / "stdin") ==
        "{\"action\":\"create\",\"at\":\"2026-12-03T00:00:00+00:00\",\"interface\":\"sftp\","
        "\"path\":\"/srv/in/a.txt\",\"type\":\"file\",\"username\":\"alice\"}\n");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // Reaped: no child of ours is left, not even a zombie.
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

TEST_CASE("an exec: program that dies by a signal, or is gone, is a failed attempt that says so") {
  ExecTempDir dir;
  auto sink = make_exec_sink(quick());
  const std::string segv =
      exec_test_script(dir / "segv.sh", "echo about to stop >&2\nkill -TERM $$");
  SinkResult r = deliver_one(*sink, exec_request("exec:" + segv));
  CHECK(r.verdict == SinkResult::Verdict::kFailed);
  CHECK(r.error == "killed by SIGTERM (15): about to stop");
  CHECK(r.body == "about to stop\n");
  r = deliver_one(*sink, exec_request("exec:" + dir / "gone"));
  CHECK(r.verdict == SinkResult::Verdict::kFailed);
  CHECK(r.error == "cannot run " + dir / "gone" + ": No such file or directory");
  const std::string two_k =
      exec_test_script(dir / "long.sh", "head -c 5000 /dev/zero | tr '\\0' x >&2\nexit 7");
  r = deliver_one(*sink, exec_request("exec:" + two_k));
  CHECK(r.error == "exit status 7: " + std::string(kExecStderrKept, 'x'));
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
}

TEST_CASE("abort() stops an exec: program in the middle of its run, with its process group") {
  ExecTempDir dir;
  const std::string program =
      exec_test_script(dir / "hang.sh", "sleep 60 &\necho $! > " + dir / "child.new\nmv " +
                                            dir / "child.new " + dir / "child\nwait");
  auto sink = make_exec_sink(quick(std::chrono::seconds(60)));
  const Request request = exec_request("exec:" + program);
  SinkResult result;
  std::thread sender([&] { result = deliver_one(*sink, request); });
  REQUIRE(
      folderhook::test::wait_until([&] { return ::access((dir / "child").c_str(), F_OK) == 0; }));
  const pid_t child = std::stoi(folderhook::test::read_file(dir / "child"));
  const auto aborted_at = std::chrono::steady_clock::now();
  sink->abort();
  sender.join();
  CHECK(std::chrono::steady_clock::now() - aborted_at < std::chrono::seconds(5));
  CHECK(result.error == kAborted);
  // The background sleep, in the program's group, was killed too (a zombie until init reaps it).
  CHECK(folderhook::test::wait_until([&] {
    const std::string stat =
        folderhook::test::read_file("/proc/" + std::to_string(child) + "/stat");
    return stat.empty() || stat.find(") Z ") != std::string::npos;
  }));
  // Every later call stops at once.
  CHECK(deliver_one(*sink, request).error == kAborted);
}
