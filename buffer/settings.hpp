#pragma once
// The [buffer] table (docs/configuration.md) as the delivery queue takes it.
#include <chrono>
#include <cstdint>
#include <filesystem>

namespace mb::buffer {

struct buffer_settings {
    std::filesystem::path path = "/var/lib/meterbridge/buffer.db";
    std::uint64_t max_size = 256ULL << 20U; // bytes of the database including its WAL
    std::chrono::milliseconds max_age = std::chrono::hours(24 * 30);
    std::chrono::milliseconds flush_interval{1000};
    bool sync_full = false; // SQLite synchronous=FULL instead of NORMAL

    bool operator==(const buffer_settings&) const = default;
};

} // namespace mb::buffer
