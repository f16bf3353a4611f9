#pragma once
// How the readings one drop takes out of the buffer file become gaps (docs/buffer.md#gaps):
// one per run of consecutive seqs of a device, with the earliest and latest ts of its
// readings (from_ts <= to_ts also when the clock stepped back between them). The store
// records each run (extending a stored gap it continues) and counts the drops per device.
#include "buffer/limits.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace mb::buffer {

struct seq_run {
    std::int64_t device = 0; // the file's number for it
    std::uint64_t from_seq = 0, to_seq = 0;
    std::int64_t from_ts = 0, to_ts = 0;
    bool operator==(const seq_run&) const = default;
};

class gap_runs {
public:
    // A dropped row, in the order they are dropped (oldest first). Returns its device's run
    // when the row does not continue it: that run is complete, to be recorded now.
    std::optional<seq_run> add(const limit_row& r);
    // The runs still open, one per device, by device number: to be recorded last.
    [[nodiscard]] std::vector<seq_run> open_runs() const;
    // Rows dropped, by device number.
    [[nodiscard]] const std::map<std::int64_t, std::uint64_t>& per_device() const {
        return per_device_;
    }

private:
    std::map<std::int64_t, seq_run> runs_; // device -> the run being built
    std::map<std::int64_t, std::uint64_t> per_device_;
};

} // namespace mb::buffer
