#include "daemon/scan_args.hpp"

#include "daemon/config/quantity.hpp"
#include "drivers/modbus_rtu/port_address.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mb::daemon {
namespace {

constexpr int max_unit = 247; // 0 is broadcast, 248..255 reserved
constexpr std::array standard_bauds{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
constexpr auto max_timeout = std::chrono::milliseconds(10'000);

std::vector<std::string_view> split_commas(std::string_view text) {
    std::vector<std::string_view> out;
    while (true) {
        const auto comma = text.find(',');
        out.push_back(text.substr(0, comma));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

bool to_int(std::string_view s, int& out) {
    if (s.empty()) return false;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size();
}

template <typename T> void sort_unique(std::vector<T>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

// A converter sets its line's baud and parity itself: one pass, no serial options.
std::string port_error(const std::string& port, bool serial_given) {
    const auto where = drivers::rtu::parse_port(port);
    if (!where.ok()) return "--port: " + where.error;
    if (where.address.network() && serial_given)
        return fmt::format("--baud and --parity are serial settings and do not apply to {}",
                           where.address.kind_phrase());
    return {};
}

} // namespace

parsed_list<int> parse_units(std::string_view text) {
    parsed_list<int> r;
    for (const auto item : split_commas(text)) {
        const auto dash = item.find('-');
        int first = 0;
        int last = 0;
        const bool ok = dash == std::string_view::npos ? to_int(item, first) && to_int(item, last)
                                                       : to_int(item.substr(0, dash), first) &&
                                                             to_int(item.substr(dash + 1), last);
        if (!ok) {
            r.error = fmt::format("units: \"{}\" is not a unit id or a range like 1-247", item);
            return r;
        }
        if (first < 1 || last > max_unit || first > last) {
            r.error = fmt::format("units: \"{}\" is outside 1..{} or reversed", item, max_unit);
            return r;
        }
        for (int u = first; u <= last; ++u)
            r.values.push_back(u);
    }
    sort_unique(r.values);
    return r;
}

parsed_list<int> parse_bauds(std::string_view text) {
    parsed_list<int> r;
    for (const auto item : split_commas(text)) {
        int baud = 0;
        if (!to_int(item, baud) ||
            std::find(standard_bauds.begin(), standard_bauds.end(), baud) == standard_bauds.end()) {
            r.error =
                fmt::format("baud: \"{}\" is not one of {}", item, fmt::join(standard_bauds, ", "));
            return r;
        }
        r.values.push_back(baud);
    }
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    return r;
}

parsed_list<char> parse_parities(std::string_view text) {
    parsed_list<char> r;
    for (const auto item : split_commas(text)) {
        char p = 0;
        if (item == "none" || item == "n" || item == "N")
            p = 'N';
        else if (item == "even" || item == "e" || item == "E")
            p = 'E';
        else if (item == "odd" || item == "o" || item == "O")
            p = 'O';
        if (p == 0) {
            r.error = fmt::format("parity: \"{}\" is not none, even or odd", item);
            return r;
        }
        if (std::find(r.values.begin(), r.values.end(), p) == r.values.end()) r.values.push_back(p);
    }
    return r;
}

scan_args parse_scan_args(const std::vector<std::string_view>& args) {
    scan_args r;
    auto& o = r.options;
    bool units_given = false;
    bool serial_given = false;
    for (std::size_t i = 0; i < args.size() && r.ok(); ++i) {
        std::string_view name = args[i];
        std::string_view value;
        bool has_value = false;
        if (const auto eq = name.find('=');
            name.starts_with("--") && eq != std::string_view::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        if (name == "-h" || name == "--help") {
            o.help = true;
            continue;
        }
        if (name != "--port" && name != "--baud" && name != "--parity" && name != "--units" &&
            name != "--timeout") {
            r.error = fmt::format("unexpected argument '{}'", args[i]);
            break;
        }
        if (!has_value) {
            if (i + 1 >= args.size()) {
                r.error = fmt::format("{} needs a value", name);
                break;
            }
            value = args[++i];
        }
        if (name == "--port") {
            o.port = value;
            if (o.port.empty()) r.error = "--port: empty";
        } else if (name == "--baud") {
            serial_given = true;
            auto b = parse_bauds(value);
            o.bauds = std::move(b.values);
            r.error = std::move(b.error);
        } else if (name == "--parity") {
            serial_given = true;
            auto p = parse_parities(value);
            o.parities = std::move(p.values);
            r.error = std::move(p.error);
        } else if (name == "--units") {
            auto u = parse_units(value);
            o.units = std::move(u.values);
            r.error = std::move(u.error);
            units_given = true;
        } else {
            const auto d = config::parse_duration(value);
            if (!d.ok())
                r.error = fmt::format("timeout: {} ({})", d.error, config::duration_syntax);
            else if (d.value.count() < 1 || d.value > max_timeout)
                r.error = fmt::format("timeout: \"{}\" is outside 1ms..10s", value);
            else
                o.timeout = d.value;
        }
    }
    if (r.ok() && !o.help && o.port.empty()) r.error = "--port TTY is required";
    if (r.ok() && !o.help) r.error = port_error(o.port, serial_given);
    if (r.ok() && !units_given)
        for (int u = 1; u <= max_unit; ++u)
            o.units.push_back(u);
    return r;
}

std::string framing(int data_bits, char parity, int stop_bits) {
    return fmt::format("{}{}{}", data_bits, parity, stop_bits);
}

} // namespace mb::daemon
