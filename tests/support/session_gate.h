// SessionGate: a FIFO that a client's session blocks on at a known point (sftp's `!read x <
// FIFO`, curl's `-T FIFO`), holding the session, and its server's process, open until the test
// lets it go. Header-only.
//
// Why: with fanotify the agent looks up the process behind an event when it reads the event;
// a session whose server process exits right after its last operation (vsftpd, sftp-server when
// the client quits) may be gone by then, and the operation falls back to the folder's interface.
// A person's session stays open while they work, and they see one step done before the next:
// a gate after each step lets the test wait for that step's webhooks too.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "tests/support/wait.h"

namespace folderhook::test {

class SessionGate {
 public:
  explicit SessionGate(std::string path) : path_(std::move(path)) {
    made_ = ::mkfifo(path_.c_str(), 0666) == 0 && ::chmod(path_.c_str(), 0666) == 0;
  }
  // Lets a session waiting at the gate go on, then removes the FIFO: a session that reaches it
  // later finds no file and fails that step instead of waiting forever.
  ~SessionGate() {
    release();
    ::unlink(path_.c_str());
  }
  SessionGate(const SessionGate&) = delete;
  SessionGate& operator=(const SessionGate&) = delete;

  bool made() const { return made_; }
  const std::string& path() const { return path_; }

  // Waits until the session has opened the FIFO to read, that is, until every step before the
  // gate is done; the session then waits for release(). False when it did not come in time.
  bool reached(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    // Opening a FIFO to write without blocking succeeds only while a reader has it open.
    return wait_until(
        [&] { return (fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0; },
        timeout);
  }

  // One line, then end of file: `read` returns, curl's upload ends.
  void release() {
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) return;
    (void)!::write(fd_, "\n", 1);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  bool made_ = false;
  int fd_ = -1;
};

}  // namespace folderhook::test
