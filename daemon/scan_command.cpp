// meterbridge scan --port TTY [--baud N,...] [--parity none,even] [--units 1-247]
// [--timeout 100ms]: find meters on a line (docs/command-line.md); --port may also be a converter,
// tcp://HOST:PORT or rtu+tcp://HOST:PORT, then without baud and parity. For each baud x parity x
// unit id one small read (FC03 register 0, then FC04 when FC03 is refused) tells answers, exception
// answers (the unit exists), garbled answers (something is there: wrong baud or parity?)
// and silence apart.
#include "daemon/commands.hpp"
#include "daemon/config/quantity.hpp"
#include "daemon/scan_args.hpp"
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/read_poll.hpp"

#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace mb::daemon {
namespace {

namespace rtu = drivers::rtu;
using steady = std::chrono::steady_clock;

constexpr const char* scan_usage =
    "usage: meterbridge scan --port TTY [--baud N,...] [--parity none,even,odd]\n"
    "                        [--units 1-247] [--timeout 100ms]\n"
    "       meterbridge scan --port tcp://HOST:PORT|rtu+tcp://HOST:PORT [--units 1-247]\n"
    "                        [--timeout 100ms]\n"
    "  tries every baud x parity x unit id with one small read (FC03 register 0, then FC04)\n"
    "  and prints each unit that answers or raises an exception, then one summary line per\n"
    "  baud and parity. Defaults: --baud 9600 --parity none --units 1-247 --timeout 100ms.\n"
    "  Through a converter the converter sets baud and parity; a Modbus TCP gateway's\n"
    "  \"no answer\" exceptions (10, 11) count as silence.\n"
    "  Units: 1-247 or lists like 1,2,5-9. Exit 0 when some unit answered (or raised an\n"
    "  exception), 1 when none did, 2 on bad arguments.\n";

constexpr auto progress_every = std::chrono::seconds(2);

enum class probe_kind : std::uint8_t { answers, exception, garbled, silent, port };

struct probe {
    probe_kind kind = probe_kind::silent;
    rtu::function_code function = rtu::function_code::holding;
    std::uint16_t value = 0;   // answers: register 0
    std::string text;          // outcome_of() otherwise
    bool fc04_refused = false; // exception: FC04 was refused too
};

probe probe_unit(rtu::bus_line& line, int unit) {
    rtu::read_request r;
    r.address = 0;
    r.count = 1;
    std::vector<std::uint16_t> regs;
    probe p;
    for (const auto fc : {rtu::function_code::holding, rtu::function_code::input}) {
        r.function = fc;
        const auto t = line.read(unit, r, regs);
        if (t.error == rtu::line_error::none) return {probe_kind::answers, fc, regs.at(0), {}};
        if (fc == rtu::function_code::input && p.kind == probe_kind::exception) {
            p.fc04_refused = t.error == rtu::line_error::exception;
            return p;
        }
        switch (t.error) {
        case rtu::line_error::exception:
            p = {probe_kind::exception, fc, 0, outcome_of(t)};
            continue; // the unit exists: does it answer FC04?
        case rtu::line_error::bad_frame:
            return {probe_kind::garbled, fc, 0, outcome_of(t)};
        case rtu::line_error::port:
            return {probe_kind::port, fc, 0, t.text};
        default:
            return {probe_kind::silent, fc, 0, t.text};
        }
    }
    return p;
}

std::string describe(const probe& p) {
    const int fc = static_cast<int>(p.function);
    switch (p.kind) {
    case probe_kind::answers:
        return fmt::format("answers (FC{:02} register 0 = {})", fc, p.value);
    case probe_kind::exception:
        return fmt::format("{} to FC03{} of register 0: the unit is there", p.text,
                           p.fc04_refused ? " and FC04" : ", no FC04 answer");
    case probe_kind::garbled:
        return fmt::format("{}: something is there, probably at another baud rate or parity",
                           p.text);
    default:
        return "silent";
    }
}

struct tally {
    int answers = 0;
    int exceptions = 0;
    int garbled = 0;
    int silent = 0;
};

std::string summary(const std::string& line_name, const tally& t, steady::duration took) {
    const double s = std::chrono::duration<double>(took).count();
    std::string garbled = t.garbled > 0 ? fmt::format("{} garbled, ", t.garbled) : "";
    return fmt::format("{}: {} answer, {} exception, {}{} silent ({:.1f} s)", line_name, t.answers,
                       t.exceptions, garbled, t.silent, s);
}

// One baud rate and parity over every unit id. False when the port failed.
bool scan_line(const scan_options& o, int baud, char parity, tally& t, steady::time_point start,
               steady::time_point& last_progress, std::size_t& done, std::size_t total) {
    rtu::bus_settings s;
    s.name = "scan";
    s.port = o.port;
    s.baud = baud;
    s.parity = parity;
    s.timeout = o.timeout;
    rtu::bus_line line(s);
    const auto line_name =
        line.address().network()
            ? o.port
            : fmt::format("{} {}", baud, framing(s.data_bits, parity, s.stop_bits));
    if (auto err = line.open(); !err.empty()) {
        if (line.address().network())
            std::fprintf(stderr, "meterbridge scan: cannot connect to %s: %s\n",
                         line.address().endpoint().c_str(), err.c_str());
        else
            std::fprintf(stderr, "meterbridge scan: cannot open %s at %s: %s\n", o.port.c_str(),
                         line_name.c_str(), err.c_str());
        return false;
    }
    const auto began = steady::now();
    for (const int unit : o.units) {
        const auto p = probe_unit(line, unit);
        ++done;
        switch (p.kind) {
        case probe_kind::answers:
            ++t.answers;
            break;
        case probe_kind::exception:
            ++t.exceptions;
            break;
        case probe_kind::garbled:
            ++t.garbled;
            break;
        case probe_kind::silent:
            ++t.silent;
            break;
        case probe_kind::port:
            std::fprintf(stderr, "meterbridge scan: %s failed at %s unit %d: %s\n", o.port.c_str(),
                         line_name.c_str(), unit, p.text.c_str());
            return false;
        }
        if (p.kind != probe_kind::silent) {
            std::printf("%s unit %d: %s\n", line_name.c_str(), unit, describe(p).c_str());
            std::fflush(stdout);
        }
        const auto now = steady::now();
        if (now - last_progress >= progress_every && now - start >= progress_every) {
            last_progress = now;
            std::fprintf(stderr, "scan: %s unit %d, %zu of %zu probes done\n", line_name.c_str(),
                         unit, done, total);
        }
    }
    std::printf("%s\n", summary(line_name, t, steady::now() - began).c_str());
    std::fflush(stdout);
    return true;
}

} // namespace

int scan_command(arguments args) {
    const std::vector<std::string_view> words(args.begin(), args.end());
    const auto parsed = parse_scan_args(words);
    if (!parsed.ok()) {
        std::fprintf(stderr, "meterbridge scan: %s\n%s", parsed.error.c_str(), scan_usage);
        return 2;
    }
    const auto& o = parsed.options;
    if (o.help) {
        std::fputs(scan_usage, stdout);
        return 0;
    }
    const std::size_t total = o.bauds.size() * o.parities.size() * o.units.size();
    const auto start = steady::now();
    auto last_progress = start;
    std::size_t done = 0;
    int found = 0;
    int garbled = 0;
    for (const int baud : o.bauds) {
        for (const char parity : o.parities) {
            tally t;
            if (!scan_line(o, baud, parity, t, start, last_progress, done, total)) return 1;
            found += t.answers + t.exceptions;
            garbled += t.garbled;
        }
    }
    if (found == 0) {
        const char* const hint = garbled > 0
                                     ? "garbled answers mean a meter at another baud rate or "
                                       "parity: try --baud and --parity"
                                     : "check wiring, A/B polarity, baud and parity";
        std::fprintf(stderr,
                     "meterbridge scan: no unit answered on %s (%zu probes, %s each) — %s\n",
                     o.port.c_str(), total, config::format_duration(o.timeout).c_str(), hint);
        return 1;
    }
    return 0;
}

} // namespace mb::daemon
