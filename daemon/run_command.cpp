#include "daemon/commands.hpp"

#include <cstdio>

namespace mb::daemon {

int run_command(arguments /*args*/) {
    std::fputs("meterbridge run: not built yet\n", stderr);
    return 2;
}

} // namespace mb::daemon
