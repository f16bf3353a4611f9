#include "daemon/commands.hpp"

#include <cstdio>

namespace mb::daemon {

int read_command(arguments /*args*/) {
    std::fputs("meterbridge read: not built yet\n", stderr);
    return 2;
}

} // namespace mb::daemon
