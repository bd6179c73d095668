// The command line: run, check, listen, --version. Returns the process exit code.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace folderhook::agent {

int main_cli(int argc, char** argv);

// What main_cli and relay's command line share: parses argv into `app`, then returns what
// `command` returns. --help and --version end with 0 and a malformed command line with 2 (as a
// file that cannot be used); an exception out of `command` (a bug) ends as one line
// "folderhook: internal error: ..." and 1, never a stack trace.
int parse_and_run(CLI::App& app, int argc, char** argv, const std::function<int()>& command);

}  // namespace folderhook::agent
