// The command line: run, check, listen, --version. Returns the process exit code.
#pragma once

namespace folderhook::agent {

int main_cli(int argc, char** argv);

}  // namespace folderhook::agent
