#pragma once
// Why a port's lock is taken, for the message of a bus that cannot open it: the process that
// holds the flock, as the kernel tells (/proc/locks), named by its command line.
#include <string>

namespace mb::drivers::rtu {

// "port P is in use by pid N (COMMAND LINE); stop it first", or, when the holder cannot be
// found, what usually holds it. `fd` is this process's open descriptor of the port.
[[nodiscard]] std::string port_in_use(const std::string& port, int fd);

} // namespace mb::drivers::rtu
