#pragma once
// The subcommands of the command line (docs/command-line.md); each lives in its own file.
#include <span>
#include <string_view>

namespace mb::daemon {

constexpr std::string_view default_config = "/etc/meterbridge/meterbridge.toml";

using arguments = std::span<char* const>; // what follows the subcommand word

int run_command(arguments args);    // run_command.cpp
int check_command(arguments args);  // check_command.cpp
int read_command(arguments args);   // read_command.cpp
int scan_command(arguments args);   // scan_command.cpp
int buffer_command(arguments args); // buffer_command.cpp

} // namespace mb::daemon
