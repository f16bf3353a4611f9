#pragma once
// Command-line values of `meterbridge scan` (docs/command-line.md): unit ranges ("1-247",
// "1,2,5-9"), baud lists, parity lists and the per-id timeout. Pure functions: errors are values.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace mb::daemon {

// A parsed list or, when error is not empty, why the text is not one.
template <typename T> struct parsed_list {
    std::vector<T> values;
    std::string error;
    [[nodiscard]] bool ok() const { return error.empty(); }
};

// "1-247", "1,2,5-9": unit ids 1..247, ascending, each once.
parsed_list<int> parse_units(std::string_view text);

// "9600,19200": standard rates only (libmodbus silently falls back to 9600 on others).
parsed_list<int> parse_bauds(std::string_view text);

// "none,even": libmodbus parity letters 'N', 'E', 'O' (also accepts n/e/o), each once.
parsed_list<char> parse_parities(std::string_view text);

struct scan_options {
    std::string port;
    std::vector<int> bauds{9600};
    std::vector<char> parities{'N'};
    std::vector<int> units; // default 1..247
    std::chrono::milliseconds timeout{100};
    bool help = false;
};

// The whole command line after "scan"; error text (for the usage message) when it is bad.
struct scan_args {
    scan_options options;
    std::string error;
    [[nodiscard]] bool ok() const { return error.empty(); }
};
scan_args parse_scan_args(const std::vector<std::string_view>& args);

// "8N1", "8E1": how a line is framed, for messages.
std::string framing(int data_bits, char parity, int stop_bits);

} // namespace mb::daemon
