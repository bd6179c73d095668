#include "agent/cli.h"

int main(int argc, char** argv) { return folderhook::agent::main_cli(argc, argv); }
