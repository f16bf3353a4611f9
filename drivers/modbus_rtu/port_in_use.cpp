#include "drivers/modbus_rtu/port_in_use.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace mb::drivers::rtu {
namespace {

// The pid of the FLOCK on the file `fd` refers to, 0 when none is listed. A line reads
// "1: FLOCK  ADVISORY  WRITE 1234 00:1a:3 0 EOF" (device in hex, inode in decimal); waiters
// ("1: -> FLOCK …") are not holders.
long flock_holder(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return 0;
    const auto file = fmt::format("{:02x}:{:02x}:{}", major(st.st_dev), minor(st.st_dev),
                                  static_cast<unsigned long long>(st.st_ino));
    std::ifstream locks("/proc/locks");
    std::string line;
    while (std::getline(locks, line)) {
        std::istringstream in(line);
        std::string id;
        std::string kind;
        std::string advisory;
        std::string mode;
        long pid = 0;
        std::string where;
        if (!(in >> id >> kind >> advisory >> mode >> pid >> where)) continue;
        if (kind == "FLOCK" && where == file) return pid;
    }
    return 0;
}

// /proc/PID/cmdline with spaces for the NULs, shortened: enough to tell `meterbridge read`
// from a second daemon or a terminal program.
std::string command_line(long pid) {
    std::ifstream f(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!text.empty() && text.back() == '\0')
        text.pop_back();
    for (auto& c : text)
        if (c == '\0') c = ' ';
    constexpr std::size_t longest = 100;
    if (text.size() > longest) text = text.substr(0, longest) + "…";
    return text;
}

} // namespace

std::string port_in_use(const std::string& port, int fd) {
    const long pid = flock_holder(fd);
    if (pid == static_cast<long>(::getpid()))
        return fmt::format("port {} is already open in this process (two buses name one device "
                           "under different paths?)",
                           port);
    if (pid > 0) {
        const auto cmd = command_line(pid);
        return fmt::format("port {} is in use by pid {}{}; stop it first", port, pid,
                           cmd.empty() ? "" : fmt::format(" ({})", cmd));
    }
    return fmt::format("port {} is locked by another process (a `meterbridge read` or `scan`, a "
                       "second meterbridge daemon, or another program that locks it); stop it "
                       "first",
                       port);
}

} // namespace mb::drivers::rtu
