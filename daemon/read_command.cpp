// meterbridge read [-c FILE] DEVICE: poll one device once and print its values with units,
// the requests it took and their round trips (docs/command-line.md). A commissioning tool: it opens
// the bus itself, so it is run while the daemon is stopped (or on a bus it does not use).
// meterbridge read --profile FILE --port PORT --unit N: the same with a draft profile and no
// config at all, to try a profile against a meter before writing one.
#include "common/json_writer.hpp"
#include "daemon/commands.hpp"
#include "daemon/config/load_config.hpp"
#include "daemon/config/load_profile.hpp"
#include "daemon/config/quantity.hpp"
#include "daemon/gateway/component_settings.hpp"
#include "daemon/scan_args.hpp"
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "drivers/modbus_rtu/port_address.hpp"
#include "drivers/modbus_rtu/read_poll.hpp"
#include "model/measurements.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace mb::daemon {
namespace {

namespace rtu = drivers::rtu;

constexpr const char* read_usage =
    "usage: meterbridge read [-c FILE] DEVICE\n"
    "       meterbridge read --profile FILE --port PORT --unit N [--baud N]\n"
    "                        [--parity none|even|odd] [--timeout 300ms]\n"
    "                        [--request-gap 0ms]\n"
    "  opens DEVICE's bus (as configured in FILE, default /etc/meterbridge/meterbridge.toml),\n"
    "  or PORT (a serial device, tcp://HOST:PORT or rtu+tcp://HOST:PORT; 9600 8N1 unless\n"
    "  told) for the profile FILE, reads every value of the profile once and prints them\n"
    "  with units, then the requests and their round trips. Stop the daemon first if it\n"
    "  uses the same serial port. Exit 0 when the meter answered at least one request, 1 if\n"
    "  not or on a config or profile error, 2 on bad arguments.\n";

struct read_args {
    std::string file{default_config};
    std::string device;
    // --profile: no config; the bus and device come from these
    std::string profile;
    config::bus_config bus;
    int unit = 0;
    bool help = false;
    std::string error;
};

// One option of the --profile form (NAME VALUE); error text when VALUE is not accepted.
std::string read_option(read_args& r, std::string_view name, std::string_view value) {
    if (name == "--profile") {
        r.profile = value;
    } else if (name == "--port") {
        r.bus.port = value;
    } else if (name == "--unit") {
        const auto units = parse_units(value);
        if (!units.ok() || units.values.size() != 1) return "--unit: one unit id, 1..247";
        r.unit = units.values[0];
    } else if (name == "--baud") {
        const auto bauds = parse_bauds(value);
        if (!bauds.ok() || bauds.values.size() != 1) return "--baud: one standard rate, e.g. 9600";
        r.bus.baud = bauds.values[0];
    } else if (name == "--parity") {
        const auto parities = parse_parities(value);
        if (!parities.ok() || parities.values.size() != 1) return "--parity: none, even or odd";
        r.bus.parity = parities.values[0];
    } else if (name == "--timeout") {
        const auto d = config::parse_duration(value);
        if (!d.error.empty() || d.value.count() < 1) return "--timeout: a duration such as 300ms";
        r.bus.timeout = d.value;
    } else if (name == "--request-gap") {
        const auto d = config::parse_duration(value);
        if (!d.error.empty() || d.value > std::chrono::seconds(5))
            return "--request-gap: a duration such as 100ms, at most 5s";
        r.bus.request_gap = d.value;
    } else {
        return fmt::format("unexpected argument '{}'", name);
    }
    return {};
}

bool is_profile_option(std::string_view a) {
    constexpr std::array<std::string_view, 7> options = {
        "--profile", "--port", "--unit", "--baud", "--parity", "--timeout", "--request-gap"};
    return std::ranges::find(options, a) != options.end();
}

read_args parse_args(arguments args) {
    read_args r;
    bool config_given = false;
    for (std::size_t i = 0; i < args.size() && r.error.empty(); ++i) {
        const std::string_view a = args[i];
        if ((a == "-c" || a == "--config") && i + 1 < args.size()) {
            r.file = args[++i];
            config_given = true;
        } else if (a.starts_with("--config=")) {
            r.file = a.substr(9);
            config_given = true;
        } else if (a == "-h" || a == "--help") {
            r.help = true;
        } else if (is_profile_option(a) && i + 1 < args.size()) {
            r.error = read_option(r, a, args[++i]);
        } else if (a.starts_with("-") || !r.device.empty()) {
            r.error = fmt::format("unexpected argument '{}'", a);
        } else {
            r.device = a;
        }
    }
    if (!r.error.empty() || r.help) return r;
    if (!r.profile.empty() || !r.bus.port.empty() || r.unit != 0) {
        if (config_given || !r.device.empty())
            r.error = "--profile reads without a config: no -c FILE and no DEVICE";
        else if (r.profile.empty() || r.bus.port.empty() || r.unit == 0)
            r.error = "--profile FILE needs --port PORT and --unit N";
        return r;
    }
    if (r.device.empty()) r.error = "which DEVICE? (a [[device]] name of the config)";
    if (r.file.empty()) r.error = "empty file name";
    return r;
}

// Why value `index` of the plan has no number.
std::string failure_of(std::size_t index, const rtu::read_plan& plan,
                       const rtu::device_poll& poll) {
    for (std::size_t k = 0; k < poll.results.size(); ++k) {
        const auto& r = poll.results[k];
        if (std::find(r.request.values.begin(), r.request.values.end(), index) ==
            r.request.values.end())
            continue;
        if (!r.ok) return poll.errors[k];
        // Read fine but not published: a secondary value whose PT/CT read failed is left out
        // rather than published unscaled.
        if (plan.values[index].ratio != rtu::ratio_kind::none)
            return "its PT/CT ratio could not be read";
        return "not a finite number (NaN or infinity)";
    }
    return "not requested: the poll ended at the first timeout";
}

void print_values(const rtu::read_plan& plan, const rtu::device_poll& poll,
                  const rtu::decoded_values& decoded) {
    std::map<std::string, double, std::less<>> got(decoded.values.begin(), decoded.values.end());
    struct row {
        std::string name, value, unit;
        bool failed = false;
    };
    std::vector<row> rows;
    std::size_t name_w = 4;
    std::size_t value_w = 5;
    for (std::size_t i = 0; i < plan.values.size(); ++i) {
        if (!plan.publish[i]) continue;
        const auto& name = plan.values[i].name;
        row r{name, "failed", std::string(model::unit_of(name).value_or("?")), false};
        if (auto it = got.find(name); it != got.end())
            r.value = common::format_number(it->second);
        else {
            r.failed = true;
            r.unit = failure_of(i, plan, poll);
        }
        name_w = std::max(name_w, r.name.size());
        value_w = std::max(value_w, r.value.size());
        rows.push_back(std::move(r));
    }
    std::printf(
        "\n%s\n",
        fmt::format("{:<{}}  {:>{}}  {}", "name", name_w, "value", value_w, "unit").c_str());
    for (const auto& r : rows)
        std::printf(
            "%s\n",
            fmt::format("{:<{}}  {:>{}}  {}", r.name, name_w, r.value, value_w, r.unit).c_str());
}

void print_requests(const rtu::device_poll& poll) {
    std::printf("\nrequests:\n  fc    address  count       ms  result\n");
    for (const auto& a : poll.attempts) {
        const double ms = std::chrono::duration<double, std::milli>(a.rtt).count();
        // [static]: the daemon reads it at start and every static_interval, not every poll
        std::printf("%s\n", fmt::format("  FC{:02}  0x{:04X}  {:>5}  {:>7.1f}  {}{}",
                                        static_cast<int>(a.request.function), a.request.address,
                                        a.request.count, ms, a.outcome,
                                        a.request.is_static ? "  [static]" : "")
                                .c_str());
    }
}

// What one read polls: a bus, a device on it and the device's profile.
struct read_target {
    config::bus_config bus;
    config::device_config dev;
    rtu::profile prof;
};

void print_config_errors(const std::vector<config::config_error>& errors, const char* what) {
    for (const auto& e : errors)
        std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "meterbridge read: %zu error%s in %s\n", errors.size(),
                 errors.size() == 1 ? "" : "s", what);
}

// The --profile form: the draft profile, the line of the arguments, device "draft".
std::optional<read_target> target_of_profile(const read_args& a) {
    auto loaded = config::load_profile(a.profile);
    if (const auto* errors = std::get_if<std::vector<config::config_error>>(&loaded)) {
        print_config_errors(*errors, a.profile.c_str());
        return std::nullopt;
    }
    read_target t{a.bus, {}, std::move(std::get<rtu::profile>(loaded))};
    t.bus.name = "draft";
    t.dev.name = "draft";
    t.dev.bus = t.bus.name;
    t.dev.unit = a.unit;
    t.dev.profile = t.prof.id;
    return t;
}

// The DEVICE form: the device, its bus and its profile as configured in a.file.
std::optional<read_target> target_of_config(const read_args& a) {
    const auto loaded = config::load_config(a.file);
    if (const auto* errors = std::get_if<std::vector<config::config_error>>(&loaded)) {
        print_config_errors(*errors, "the configuration");
        return std::nullopt;
    }
    const auto& cfg = std::get<config::config>(loaded);
    const auto dev = std::find_if(cfg.devices.begin(), cfg.devices.end(),
                                  [&](const auto& d) { return d.name == a.device; });
    if (dev == cfg.devices.end()) {
        std::string names;
        for (const auto& d : cfg.devices)
            names += (names.empty() ? "" : ", ") + d.name;
        std::fprintf(stderr, "meterbridge read: no device \"%s\" in %s; devices: %s\n",
                     a.device.c_str(), a.file.c_str(), names.empty() ? "(none)" : names.c_str());
        return std::nullopt;
    }
    const auto bus = std::find_if(cfg.buses.begin(), cfg.buses.end(),
                                  [&](const auto& b) { return b.name == dev->bus; });
    const auto prof = cfg.profiles.find(dev->profile);
    if (bus == cfg.buses.end() || prof == cfg.profiles.end()) { // load_config checks both
        std::fprintf(stderr, "meterbridge read: %s: bus or profile missing\n", dev->name.c_str());
        return std::nullopt;
    }
    return read_target{*bus, *dev, prof->second};
}

int poll_and_print(const read_target& t) {
    const auto& bus = t.bus;
    const auto& dev = t.dev;
    const bool network = rtu::parse_port(bus.port).address.network();
    const auto line_name = network ? bus.port
                                   : fmt::format("{} at {} {}", bus.port, bus.baud,
                                                 framing(bus.data_bits, bus.parity, bus.stop_bits));
    std::printf("%s: %s %s (%s), unit %d on %s\n", dev.name.c_str(), t.prof.vendor.c_str(),
                t.prof.model.c_str(), t.prof.id.c_str(), dev.unit, line_name.c_str());
    std::fflush(stdout);

    rtu::plan_options opt;
    opt.max_gap = bus.max_gap;
    opt.only = dev.only;
    opt.pt_override = dev.pt_ratio.has_value();
    opt.ct_override = dev.ct_ratio.has_value();
    auto plan = rtu::plan_reads(t.prof, opt);

    const auto settings = rtu_line_settings(bus); // bus_line keeps a reference
    rtu::bus_line line(settings);
    if (auto err = line.open(); !err.empty()) {
        // bus_line's reasons that name the port already ("port /dev/ttyS1 is in use …").
        if (network)
            std::fprintf(stderr, "meterbridge read: cannot connect to %s: %s\n", bus.port.c_str(),
                         err.c_str());
        else if (err.starts_with("port ") || err.starts_with("cannot open"))
            std::fprintf(stderr, "meterbridge read: %s\n", err.c_str());
        else
            std::fprintf(stderr, "meterbridge read: cannot open %s: %s\n", bus.port.c_str(),
                         err.c_str());
        return 1;
    }
    // The device's own timeout and request gap, else the bus's.
    const rtu::request_timing timing{dev.timeout.value_or(bus.timeout),
                                     dev.request_gap.value_or(bus.request_gap)};
    const rtu::poll_context ctx{bus.name, dev.name, dev.unit, timing};
    const auto poll = rtu::poll_device(line, ctx, plan);
    line.close();
    if (poll.heard) {
        const auto decoded = rtu::decode_results(plan, poll.results, dev.pt_ratio, dev.ct_ratio);
        print_values(plan, poll, decoded);
    }
    print_requests(poll);
    std::printf("\ntotal: %s\n", poll.summary().c_str());
    std::fflush(stdout);
    if (!poll.heard) {
        std::fprintf(stderr,
                     "meterbridge read: no answer from unit %d on %s within %s — check %s\n",
                     dev.unit, line_name.c_str(), config::format_duration(timing.timeout).c_str(),
                     network ? "the unit id, and the converter's serial settings and wiring"
                             : "wiring, unit id, baud and parity");
        return 1;
    }
    if (!poll.answered) {
        std::fprintf(stderr,
                     "meterbridge read: unit %d on %s answered, but only with errors — check the "
                     "profile (%s) and the unit id\n",
                     dev.unit, line_name.c_str(), t.prof.id.c_str());
        return 1;
    }
    return 0;
}

} // namespace

int read_command(arguments args) {
    const auto a = parse_args(args);
    if (!a.error.empty()) {
        std::fprintf(stderr, "meterbridge read: %s\n%s", a.error.c_str(), read_usage);
        return 2;
    }
    if (a.help) {
        std::fputs(read_usage, stdout);
        return 0;
    }
    const auto target = a.profile.empty() ? target_of_config(a) : target_of_profile(a);
    return target ? poll_and_print(*target) : 1;
}

} // namespace mb::daemon
