// meterbridge buffer [-c FILE]: what the store-and-forward buffer holds, per device
// (docs/command-line.md). It reads the file the config names read-only, so it is safe while the
// daemon runs; it shows the last commit (readings still only in memory are not there yet).
#include "buffer/inspect.hpp"
#include "daemon/commands.hpp"
#include "daemon/load_for_command.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace mb::daemon {
namespace {

constexpr const char* buffer_usage =
    "usage: meterbridge buffer [-c FILE]\n"
    "  shows what the store-and-forward buffer ([buffer] path in FILE, default\n"
    "  /etc/meterbridge/meterbridge.toml) holds: per device the readings stored, the oldest\n"
    "  one's ts, the last seq and the readings dropped. Read-only; safe while the daemon runs.\n"
    "  Exit 0 when the file was read (or there is none yet), 1 when it cannot be read or on a\n"
    "  config error, 2 on bad arguments.\n";

// 1536 -> "1.5 KiB"; the units of the config's sizes.
std::string format_size(std::uintmax_t bytes) {
    if (bytes < 1024) return fmt::format("{} B", bytes);
    constexpr std::array units{"KiB", "MiB", "GiB", "TiB"};
    auto value = static_cast<double>(bytes) / 1024;
    std::size_t u = 0;
    while (value >= 1024 && u + 1 < units.size()) {
        value /= 1024;
        ++u;
    }
    return fmt::format("{:.1f} {}", value, units.at(u));
}

// Milliseconds since the epoch as ISO 8601 UTC: 2024-05-01T12:00:00.250Z.
std::string format_ts(std::int64_t ms) {
    const auto at = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms));
    const auto secs = std::chrono::floor<std::chrono::seconds>(at);
    const std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       (at - secs).count());
}

void print_table(const std::vector<buffer::device_contents>& devices) {
    const std::array<std::string, 6> head{"device",    "readings", "gaps",
                                          "oldest ts", "last seq", "dropped"};
    std::vector<std::array<std::string, 6>> rows;
    std::array<std::size_t, 6> w{};
    for (std::size_t c = 0; c < head.size(); ++c)
        w.at(c) = head.at(c).size();
    for (const auto& d : devices) {
        rows.push_back({d.name, std::to_string(d.readings), std::to_string(d.gaps),
                        d.oldest_ts ? format_ts(*d.oldest_ts) : "-", std::to_string(d.last_seq),
                        std::to_string(d.dropped)});
        for (std::size_t c = 0; c < w.size(); ++c)
            w.at(c) = std::max(w.at(c), rows.back().at(c).size());
    }
    const auto line = [&](const std::array<std::string, 6>& r) {
        std::printf("%s\n",
                    fmt::format("{:<{}}  {:>{}}  {:>{}}  {:<{}}  {:>{}}  {:>{}}", r[0], w[0], r[1],
                                w[1], r[2], w[2], r[3], w[3], r[4], w[4], r[5], w[5])
                        .c_str());
    };
    std::printf("\n");
    line(head);
    for (const auto& r : rows)
        line(r);
}

} // namespace

int buffer_command(arguments args) {
    const auto loaded = load_for_command(args, "buffer", buffer_usage, true);
    if (!loaded.cfg) return loaded.exit_code;
    const auto& cfg = *loaded.cfg;
    const auto r = buffer::inspect_buffer(cfg.buffer.path);
    if (r.missing) {
        // Not an error: the daemon creates the file when it first starts.
        std::printf("no buffer file yet at %s (the daemon creates it when it starts)\n",
                    cfg.buffer.path.c_str());
        return 0;
    }
    if (!r.ok()) {
        std::fprintf(stderr, "meterbridge buffer: %s\n", r.error.c_str());
        return 1;
    }
    const std::string held =
        r.readings == 0 && r.gaps == 0
            ? std::string("empty")
            : fmt::format("{} and {} waiting", count(r.readings, "reading", "readings"),
                          count(r.gaps, "gap message", "gap messages"));
    std::printf("%s: %s; %s + %s WAL (max_size %s), schema %d\n", cfg.buffer.path.c_str(),
                held.c_str(), format_size(r.db_bytes).c_str(), format_size(r.wal_bytes).c_str(),
                format_size(cfg.buffer.max_size).c_str(), r.schema_version);
    if (!r.devices.empty()) print_table(r.devices);
    return 0;
}

} // namespace mb::daemon
