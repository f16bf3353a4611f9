#include "daemon/commands.hpp"

#include <cstdio>

namespace mb::daemon {

int check_command(arguments /*args*/) {
    std::fputs("meterbridge check: not built yet\n", stderr);
    return 2;
}

} // namespace mb::daemon
