#include "agent/cli.h"
#include "relay/relay_cli.h"

// `folderhook relay`, and the commands given a relay's file, belong to relay/; the rest to the
// agent.
int main(int argc, char** argv) {
  if (folderhook::relay::relay_cli_handles(argc, argv))
    return folderhook::relay::relay_main_cli(argc, argv);
  return folderhook::agent::main_cli(argc, argv);
}
