// The relay's command line. agent/main.cpp hands it `folderhook relay --config FILE`, and the
// check, status, replay and dead-letters commands whose --config file has a [relay] table
// (relay_cli_handles). Returns the process exit code.
#pragma once

namespace folderhook::relay {

bool relay_cli_handles(int argc, char** argv);
int relay_main_cli(int argc, char** argv);

}  // namespace folderhook::relay
