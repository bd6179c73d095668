// AgentProcess: the real folderhook binary as a child process, its stdout and stderr captured
// in a file the test can read while it runs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace folderhook::test {

class AgentProcess {
 public:
  // Starts FOLDERHOOK_BINARY with `args` (without the program name); output goes to log_path.
  AgentProcess(const std::vector<std::string>& args, const std::string& log_path);
  // Kills the process (SIGKILL) if it still runs.
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string output() const;
  // Waits until the output contains `text`. False on timeout or if the process exited first.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `signal` and waits for the exit. Returns the exit code, 128+signal if killed by a
  // signal, or -1 if it did not exit within the timeout.
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for the process to exit on its own; same return values as stop().
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

// Runs the binary to completion; returns the exit code and puts stdout+stderr in `output`.
int run_folderhook(const std::vector<std::string>& args, std::string& output);

}  // namespace folderhook::test
