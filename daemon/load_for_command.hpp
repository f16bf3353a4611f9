#pragma once
// What the read-only subcommands `check` and `buffer` share: their arguments (-c FILE,
// --config FILE, --config=FILE, -h/--help) and loading FILE, every config error on stderr.
#include "daemon/commands.hpp"
#include "daemon/config/config.hpp"
#include "daemon/config/load_config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mb::daemon {

struct loaded_for_command {
    std::optional<config::config> cfg; // set when FILE loaded without errors
    std::string file;                  // the file named (or default_config)
    int exit_code = 0;                 // when cfg is not set: 0 after --help, 1 on config
                                       // errors, 2 on bad arguments
};

// `name` is the subcommand's word for messages ("meterbridge NAME: ..."), `usage` its help
// text (stdout on --help, stderr after a bad argument). The line that counts config errors
// names the subcommand only when `name_on_count` is set.
loaded_for_command load_for_command(arguments args, std::string_view name, const char* usage,
                                    bool name_on_count, const config::load_options& options = {});

// 1 -> "1 error", 2 -> "2 errors".
std::string count(std::uint64_t n, std::string_view one, std::string_view many);

} // namespace mb::daemon
