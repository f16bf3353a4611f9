#pragma once
// A read-only look into a buffer file for `meterbridge buffer` (docs/command-line.md): what waits
// in it per device. Safe while the daemon runs (WAL: a reader sees the last commit, blocks no
// writer) and never changes the file.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mb::buffer {

struct device_contents {
    std::string name;
    std::uint64_t readings = 0;            // readings stored, waiting for a PUBACK
    std::optional<std::int64_t> oldest_ts; // ts (ms) of the oldest of them; none if none
    std::uint64_t last_seq = 0;            // highest seq known: devices.last_seq or stored
    std::uint64_t dropped = 0;             // readings dropped, ever (devices.dropped)
    std::uint64_t gaps = 0;                // gap messages stored, waiting
};

struct inspect_result {
    std::filesystem::path path;
    bool missing = false; // there is no file at path (error says so too)
    std::string error;    // empty when the file was read; else why not, naming the path
    int schema_version = 0;
    std::uintmax_t db_bytes = 0;          // the database file
    std::uintmax_t wal_bytes = 0;         // its -wal (0 when there is none)
    std::vector<device_contents> devices; // by name; every device that ever had a seq
    std::uint64_t readings = 0;           // the sums of devices
    std::uint64_t gaps = 0;
    std::uint64_t dropped = 0;
    std::optional<std::int64_t> oldest_ts;

    [[nodiscard]] bool ok() const { return error.empty(); }
};

// Reads the buffer file at `path`; never throws (a failure is result.error). Opens it with
// SQLITE_OPEN_READONLY and migrates nothing; when the daemon is not using the file (no -wal
// beside it) it creates no -wal or -shm of its own either.
[[nodiscard]] inspect_result inspect_buffer(const std::filesystem::path& path);

} // namespace mb::buffer
