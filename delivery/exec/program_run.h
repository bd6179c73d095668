// Running one program to its end: the process, its pipes and its reaping. Used by the exec sink
// (exec_sink.h) on a sender thread; blocks that thread only, for at most `timeout` plus the time
// a killed process takes to die.
//
// The child: started with posix_spawn (no shell, no PATH search), in a session and process
// group of its own, every signal at its default and none blocked, working directory "/", only
// the descriptors 0 (a pipe carrying `input`, then closed), 1 (/dev/null: a program that writes
// megabytes never blocks) and 2 (a pipe: the first kExecStderrKept bytes are kept, the rest read
// and dropped); everything of the agent's above 2 is closed (closefrom). It is always reaped
// (waitid on a pidfd), also when it is killed. After `timeout`, or when `abort_fd` becomes
// readable, SIGKILL goes to its whole process group. What it leaves running after it exits by
// itself is not waited for (nor killed).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace folderhook::delivery {

struct ProgramRun {
  enum class End { kExited, kSignaled, kTimedOut, kAborted, kCannotRun };
  End end = End::kCannotRun;
  int code = 0;             // kExited: the exit status; kSignaled: the signal
  std::string stderr_head;  // the first kExecStderrKept bytes of its stderr
  std::string error;        // kCannotRun: why (one line)
};

// `env` is the whole environment ("NAME=value"). `abort_fd` may be -1.
ProgramRun run_program(const std::string& program, const std::vector<std::string>& env,
                       std::string_view input, std::chrono::milliseconds timeout, int abort_fd);

}  // namespace folderhook::delivery
