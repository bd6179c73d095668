#include "tests/support/agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

extern char** environ;

namespace folderhook::test {
namespace {

pid_t spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv_storage{FOLDERHOOK_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + std::string(FOLDERHOOK_BINARY));
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

AgentProcess::AgentProcess(const std::vector<std::string>& args, const std::string& log_path)
    : pid_(spawn(args, log_path)), log_path_(log_path) {}

AgentProcess::~AgentProcess() {
  if (running()) stop(SIGKILL);
}

std::string AgentProcess::output() const { return read_file(log_path_); }

bool AgentProcess::running() {
  if (exit_code_ != -1 || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return false;
  }
  return r == 0;
}

bool AgentProcess::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  bool found = false;
  wait_until([&] {
    found = output().find(text) != std::string::npos;
    return found || !running();
  }, timeout);
  return found || output().find(text) != std::string::npos;
}

int AgentProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (running()) kill(pid_, signal);
  return wait_exit(timeout);
}

int AgentProcess::wait_exit(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout);
  return exit_code_;
}

int run_folderhook(const std::vector<std::string>& args, std::string& output) {
  TempDir dir;
  AgentProcess process(args, dir / "output");
  const int code = process.wait_exit(std::chrono::seconds(30));
  output = process.output();
  return code;
}

}  // namespace folderhook::test
