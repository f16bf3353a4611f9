#include "daemon/commands.hpp"

#include <cstdio>

namespace mb::daemon {

int scan_command(arguments /*args*/) {
    std::fputs("meterbridge scan: not built yet\n", stderr);
    return 2;
}

} // namespace mb::daemon
