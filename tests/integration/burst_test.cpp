// A burst faster than the kernel queue, on a tmpfs (where creating a file costs the writer
// almost nothing): the real binary, a writer at full speed, the queue at its default and
// lowered. The kernel keeps one overflow record queued at a time and drops silently while it
// waits to be read, so the records read after it can miss their sequels as well; whatever the
// number of overflows and wherever they fall, every file is reported exactly once.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/no_loss.h"
#include "tests/support/running_agent.h"
#include "tests/support/tmpfs.h"

using namespace folderhook::test;
using namespace folderhook::test::no_loss;
using namespace std::chrono_literals;

namespace {

// Makes `names` in `dir` as fast as one process can (open, write, close, as an upload does),
// in a child process, and waits for it. The agent `pid` is stopped until the first `paused`
// files are made (their records fill the kernel queue, which then holds an overflow record),
// then runs again while the rest are made: it reads the queue slower than they fill it, so it
// overflows again and again, also while the overflow record waits to be read. True when every
// file was made.
bool write_burst(const std::string& dir, const std::vector<std::string>& names, pid_t pid,
                 size_t paused) {
  std::vector<std::string> paths;
  for (const std::string& name : names) paths.push_back(dir + "/" + name);
  int ready[2];
  if (::pipe(ready) != 0) return false;
  if (::kill(pid, SIGSTOP) != 0) return false;
  const pid_t child = ::fork();
  if (child < 0) {
    ::kill(pid, SIGCONT);
    return false;
  }
  if (child == 0) {
    // Nothing here allocates: the paths were made before the fork.
    ::close(ready[0]);
    for (size_t i = 0; i < paths.size(); ++i) {
      const int fd = ::open(paths[i].c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0 || ::write(fd, "burst\n", 6) != 6 || ::close(fd) != 0) ::_exit(1);
      if (i + 1 == paused && ::write(ready[1], "p", 1) != 1) ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  ::kill(pid, SIGCONT);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// One run: `files` files into a fresh agent's folder on a tmpfs, its kernel queue `queue`
// records, the agent stopped while the first `paused` are made.
void burst_on_tmpfs(const std::string& backend, int files, int queue, int paused) {
  if (!backend_here(backend)) return;
  RunningAgent r(rules_for(backend), false);
  Tmpfs tmpfs(r.in, "size=256m");
  if (!tmpfs.why().empty()) {
    MESSAGE("SKIPPED: " << tmpfs.why());
    return;
  }
  {
    QueueLimit limit(backend, queue);
    start_caught_up(r);  // its kernel instance keeps the queue it was made with
  }
  std::vector<std::string> names;
  std::map<std::string, int> expected;
  for (int i = 0; i < files; ++i) {
    names.push_back("f" + std::to_string(100000 + i));
    expected["create /in/" + names.back()] = 1;
  }
  REQUIRE(write_burst(r.in, names, r.agent->pid(), static_cast<size_t>(paused)));
  // Every delivery is counted once it came (duplicates of one webhook-id count once); what
  // comes after the sentinel would be too late anyway.
  const bool all = r.receiver.wait_for(names.size(), 180s);
  sentinel(r);
  expected["create /in/sentinel"] = 1;
  const auto got = distinct(r.receiver, r.dir.path());
  const std::string log = r.agent->output();
  const auto overflows = log_lines(log, backend + " queue overflowed: operations were lost (raise fs." +
                                            backend + ".max_queued_events); a rescan is needed to "
                                                      "name them").size();
  MESSAGE(backend << ", queue " << queue << ", " << files << " files: " << overflows
                  << " overflows, " << log_lines(log, "rescan done").size() << " rescans");
  INFO("agent log (deliveries left out):\n" << [&] {
    std::string out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"msg\":\"delivery\"") == std::string::npos) out += line + "\n";
    }
    return out;
  }());
  CHECK(all);
  CHECK_MESSAGE(got == expected, difference(got, expected));
  CHECK(overflows > 0);  // the paused files' records are more than the queue holds
  CHECK(r.agent->stop(SIGTERM) == 0);
}

}  // namespace

// A file is three records with inotify (CREATE, OPEN, CLOSE_WRITE) and one with fanotify (which
// merges the three: they name the same directory and name); a read() takes up to 64 KiB of
// records, so a queue of several reads lets the writer refill it before the reader reaches the
// overflow record. inotify at the default queue (16,384 records) and a lowered one; fanotify,
// which keeps up with this writer at the default, at two lowered ones.
TEST_CASE("inotify: a burst faster than the kernel queue on a tmpfs is reported exactly once") {
  burst_on_tmpfs("inotify", 12000, 16384, 6000);
  burst_on_tmpfs("inotify", 5000, 4096, 1500);
}

TEST_CASE("fanotify: a burst faster than the kernel queue on a tmpfs is reported exactly once") {
  burst_on_tmpfs("fanotify", 8000, 4096, 5000);
  burst_on_tmpfs("fanotify", 5000, 2048, 3000);
}
