#include "delivery/exec/program_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "delivery/exec/exec_url.h"

namespace folderhook::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

bool make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return true;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Writes what the pipe takes now. SIGPIPE (the program closed its stdin early) is blocked on
// this thread for the write and taken off again, so that a process that does not ignore it
// (the unit tests') is not killed: EPIPE alone says it.
ssize_t write_no_sigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t n = ::write(fd, data, size);
  const int err = errno;
  if (n < 0 && err == EPIPE) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return n;
}

// Reads what is there now: into `kept` up to kExecStderrKept, the rest dropped. False at EOF
// or on an error (the pipe is done).
bool read_stderr(int fd, std::string& kept) {
  char buf[8192];
  for (int rounds = 0; rounds < 64; ++rounds) {  // bounded: a writer that never stops
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const size_t room = kExecStderrKept - std::min(kExecStderrKept, kept.size());
      kept.append(buf, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
  return true;
}

// Reaps the child behind `pidfd` (it has exited or been killed); fills in how it ended.
void reap(int pidfd, pid_t pid, ProgramRun& run) {
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // No pidfd wait (should not happen on Linux 5.4+): by pid.
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
      info.si_code = CLD_KILLED;
      info.si_status = WTERMSIG(status);
    } else {
      info.si_code = CLD_EXITED;
      info.si_status = WEXITSTATUS(status);
    }
  }
  if (run.end == ProgramRun::End::kTimedOut || run.end == ProgramRun::End::kAborted) return;
  if (info.si_code == CLD_EXITED) {
    run.end = ProgramRun::End::kExited;
  } else {
    run.end = ProgramRun::End::kSignaled;
  }
  run.code = info.si_status;
}

}  // namespace

ProgramRun run_program(const std::string& program, const std::vector<std::string>& env,
                       std::string_view input, std::chrono::milliseconds timeout, int abort_fd) {
  ProgramRun run;
  Fd in_read, in_write, err_read, err_write;
  Fd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (devnull.get() < 0 || !make_pipe(in_read, in_write) || !make_pipe(err_read, err_write)) {
    run.error = errno_text("cannot make the program's pipes", errno);
    return run;
  }
  std::vector<char*> argv{const_cast<char*>(program.c_str()), nullptr};
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  // dup2 clears O_CLOEXEC on 0-2; closefrom(3) closes whatever of the agent's was not CLOEXEC.
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, devnull.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);  // SIGPIPE is ignored in the agent: not in it
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    run.error = "cannot run " + program + ": " + std::strerror(spawned);
    return run;
  }
  in_read.reset();
  err_write.reset();
  devnull.reset();
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  set_nonblocking(in_write.get());
  set_nonblocking(err_read.get());

  const auto deadline = SteadyClock::now() + timeout;
  size_t written = 0;
  bool exited = false;
  if (input.empty()) in_write.reset();
  while (!exited) {
    pollfd fds[4];
    nfds_t n = 0;
    const int child_at = pidfd.get() >= 0 ? static_cast<int>(n) : -1;
    if (pidfd.get() >= 0) fds[n++] = {pidfd.get(), POLLIN, 0};
    const int err_at = err_read.get() >= 0 ? static_cast<int>(n) : -1;
    if (err_read.get() >= 0) fds[n++] = {err_read.get(), POLLIN, 0};
    const int in_at = in_write.get() >= 0 ? static_cast<int>(n) : -1;
    if (in_write.get() >= 0) fds[n++] = {in_write.get(), POLLOUT, 0};
    const int abort_at = abort_fd >= 0 ? static_cast<int>(n) : -1;
    if (abort_fd >= 0) fds[n++] = {abort_fd, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      run.end = ProgramRun::End::kTimedOut;
      break;
    }
    // Without a pidfd the exit is seen at the EOF of stderr (or the timeout): wake every 50 ms.
    const int wait_ms =
        static_cast<int>(pidfd.get() >= 0 ? left.count() : std::min<int64_t>(left.count(), 50));
    const int ready = ::poll(fds, n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      run.end = ProgramRun::End::kTimedOut;  // cannot wait on it: kill it rather than leak it
      break;
    }
    if (ready <= 0) {
      if (pidfd.get() < 0) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          run.end = WIFSIGNALED(status) ? ProgramRun::End::kSignaled : ProgramRun::End::kExited;
          run.code = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
          pid = -1;
          exited = true;
        }
      }
      continue;
    }
    if (abort_at >= 0 && (fds[abort_at].revents & POLLIN) != 0) {
      run.end = ProgramRun::End::kAborted;
      break;
    }
    if (err_at >= 0 && fds[err_at].revents != 0 && !read_stderr(err_read.get(), run.stderr_head)) {
      err_read.reset();
    }
    if (in_at >= 0 && fds[in_at].revents != 0) {
      const ssize_t w =
          write_no_sigpipe(in_write.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      // Done, or the program closed its stdin (EPIPE): it read what it wanted.
      if (written == input.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) in_write.reset();
    }
    if (child_at >= 0 && (fds[child_at].revents & POLLIN) != 0) exited = true;
  }
  if (!exited) ::kill(-pid, SIGKILL);  // the whole group: it leads a session of its own
  if (pid > 0) reap(pidfd.get(), pid, run);
  // What it wrote just before it ended, still in the pipe (never blocks: non-blocking).
  if (err_read.get() >= 0) read_stderr(err_read.get(), run.stderr_head);
  return run;
}

}  // namespace folderhook::delivery
