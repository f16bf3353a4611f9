#include "buffer/limits.hpp"

#include <algorithm>

namespace mb::buffer {

limits::limits(std::uint64_t max_size, std::chrono::milliseconds max_age, std::int64_t page_size)
    : max_size_(max_size)
    , max_age_ms_(max_age.count())
    , wal_pages_(
          std::clamp<std::int64_t>(static_cast<std::int64_t>(max_size / 8) / page_size, 2, 1000))
    , wal_budget_(static_cast<std::uint64_t>(wal_pages_ * page_size))
    , schema_bytes_(static_cast<std::uint64_t>(schema_pages * page_size)) {
    const auto fixed = wal_budget_ + schema_bytes_;
    const auto page = static_cast<std::uint64_t>(page_size);
    room_ = max_size_ > fixed + page ? max_size_ - fixed : page;
}

std::int64_t limits::age_cutoff(std::int64_t received_now) const {
    return received_now - max_age_ms_;
}

bool limits::over_size(std::uint64_t used_bytes, std::uint64_t file_bytes) const {
    return used_bytes > schema_bytes_ + room_ / 8 * 7 || file_bytes > max_size_;
}

bool limits::above_target(std::uint64_t used_bytes) const {
    return used_bytes > schema_bytes_ + room_ / 4 * 3;
}

std::uint64_t limits::size_step(std::uint64_t used_bytes, std::uint64_t readings) const {
    const auto row_bytes =
        std::max<std::uint64_t>(used_bytes / std::max<std::uint64_t>(readings, 1), 1);
    return std::max<std::uint64_t>(wal_budget_ / 2 / row_bytes, 1);
}

bool drop_pick::offer(const limit_row& r) {
    if (r.received >= received_before_) return false;
    if (std::find(keep_.begin(), keep_.end(), r.id) == keep_.end()) rows_.push_back(r);
    return true;
}

} // namespace mb::buffer
