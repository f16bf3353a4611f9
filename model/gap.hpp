#pragma once
// A run of one device's readings that will never be delivered, and why (docs/buffer.md): it is
// announced on {p}/{gw}/{dev}/gap so that a consumer can tell an explained gap in seq from a
// loss.
#include <cstdint>
#include <string>
#include <string_view>

namespace mb::model {

enum class gap_reason : std::uint8_t { max_size, max_age, refused, restart, file_lost };

// "max_size", "max_age", "refused", "restart", "file_lost": the payload's words.
[[nodiscard]] constexpr std::string_view reason_name(gap_reason r) {
    switch (r) {
    case gap_reason::max_size:
        return "max_size";
    case gap_reason::max_age:
        return "max_age";
    case gap_reason::refused:
        return "refused";
    case gap_reason::restart:
        return "restart";
    case gap_reason::file_lost:
        return "file_lost";
    }
    return "max_size";
}

struct gap {
    std::string device;
    gap_reason reason = gap_reason::max_size;
    std::uint64_t from_seq = 0;
    std::uint64_t to_seq = 0;
    std::int64_t from_ts = 0;
    std::int64_t to_ts = 0;
};

} // namespace mb::model
