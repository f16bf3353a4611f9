#include "daemon/commands.hpp"
#include "daemon/log/journal_sink.hpp"

#include <csignal>
#include <cstdio>
#include <string_view>

namespace {

constexpr const char* usage = R"(usage:
  meterbridge run   [-c FILE]          run the daemon (foreground; systemd runs this)
  meterbridge check [-c FILE]          validate config and profiles, exit 0/1
  meterbridge check --profile FILE     validate one profile file alone
  meterbridge read  [-c FILE] DEVICE   poll one device once, print values and units
  meterbridge read  --profile FILE --port PORT --unit N [--baud N] [--parity P] [--timeout D]
                                       the same with a draft profile and no config
  meterbridge scan  --port TTY [--baud N,...] [--parity none,even,odd] [--units 1-247]
                    [--timeout 100ms]  find meters on a line (or through a converter:
                                       --port tcp://HOST:PORT or rtu+tcp://HOST:PORT)
  meterbridge buffer [-c FILE]         what the store-and-forward buffer holds, per device
  meterbridge --version
)";

} // namespace

int main(int argc, char** argv) {
    mb::daemon::install_journal_sink();
    if (argc < 2) {
        std::fputs(usage, stderr);
        return 2;
    }
    const std::string_view word = argv[1];
    const mb::daemon::arguments rest(argv + 2, static_cast<std::size_t>(argc - 2));
    if (word == "--version" || word == "version") {
        std::puts("meterbridge " MB_VERSION);
        return 0;
    }
    if (word == "--help" || word == "-h" || word == "help") {
        std::fputs(usage, stdout);
        return 0;
    }
    // rtu+tcp:// writes RTU frames with write(): a reset connection must come back as EPIPE,
    // not kill `read` or `scan` (run_command ignores SIGPIPE for the uplink as well).
    std::signal(SIGPIPE, SIG_IGN);
    if (word == "run") return mb::daemon::run_command(rest);
    if (word == "check") return mb::daemon::check_command(rest);
    if (word == "read") return mb::daemon::read_command(rest);
    if (word == "scan") return mb::daemon::scan_command(rest);
    if (word == "buffer") return mb::daemon::buffer_command(rest);
    std::fprintf(stderr, "meterbridge: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
