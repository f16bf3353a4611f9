#pragma once
// What buffer_bench reads about its own process and the disk it writes to: bytes sent to the
// storage layer (/proc/self/io write_bytes: counted when a page is dirtied, by every thread),
// resident memory (/proc/self/status) and heap in use (mallinfo2), CPU time (getrusage) and the
// filesystem under a path.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/statfs.h>

namespace mb::bench {

// The number after "key:" in a /proc file of "key: value" lines.
inline std::uint64_t proc_field(const char* file, std::string_view key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
            line[key.size()] == ':')
            return std::stoull(line.substr(key.size() + 1));
    }
    throw std::runtime_error(std::string("no ") + std::string(key) + " in " + file);
}

inline std::uint64_t write_bytes() {
    return proc_field("/proc/self/io", "write_bytes");
}

inline std::uint64_t rss_kib() {
    return proc_field("/proc/self/status", "VmRSS");
}

inline std::uint64_t peak_rss_kib() {
    return proc_field("/proc/self/status", "VmHWM");
}

// Heap bytes live objects hold (every malloc arena and mmapped chunk), KiB: unlike RSS, not
// what the allocator kept of a burst since freed.
inline std::uint64_t heap_in_use_kib() {
    const auto m = ::mallinfo2();
    return (m.uordblks + m.hblkhd) / 1024;
}

// Starts VmHWM again from the current RSS (Linux >= 4.0); false where that is not allowed.
inline bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

// User + system CPU seconds of every thread so far.
inline double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto secs = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return secs(u.ru_utime) + secs(u.ru_stime);
}

// The filesystem type under `p`, by name where it matters here.
inline std::string fs_type(const std::filesystem::path& p) {
    struct statfs s {};
    if (::statfs(p.c_str(), &s) != 0) return "unknown";
    switch (static_cast<std::uint64_t>(s.f_type)) {
    case 0xEF53:
        return "ext4";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x794C7630:
        return "overlay";
    case 0xF2F52010:
        return "f2fs";
    case 0x01021994:
        return "tmpfs";
    case 0x858458F6:
        return "ramfs";
    default:
        return "other";
    }
}

// The database with its WAL (what max_size bounds), bytes.
inline std::uint64_t db_bytes(const std::filesystem::path& db) {
    std::uint64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
        std::error_code ec;
        const auto n = std::filesystem::file_size(db.string() + suffix, ec);
        if (!ec) total += n;
    }
    return total;
}

} // namespace mb::bench
