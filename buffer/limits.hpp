#pragma once
// What max_age and max_size ask the buffer file to drop (docs/buffer.md#max_age, the keys in
// docs/configuration.md#buffer), decided on the file's figures alone: the store reads them
// and runs the statements. Writer thread only (as the store).
#include <chrono>
#include <cstdint>
#include <vector>

namespace mb::buffer {

// A reading row the limits may drop, as the file gives it.
struct limit_row {
    std::int64_t id = 0;
    std::int64_t device = 0; // the file's number for it
    std::uint64_t seq = 0;
    std::int64_t ts = 0;
    std::int64_t received = 0; // items.received (its ts when the file had none)
};

class limits {
public:
    // Rows one max_age drop reads at most; drops repeat until one takes nothing.
    static constexpr std::uint64_t age_batch = 1000;
    // The pages an empty buffer file takes (measured: 11 for schema version 1), and one spare.
    static constexpr std::int64_t schema_pages = 12;

    limits() = default;
    limits(std::uint64_t max_size, std::chrono::milliseconds max_age, std::int64_t page_size);

    // The WAL is kept small next to max_size (an eighth of it, 2 to 1000 pages): checkpointed
    // and truncated at this many pages.
    [[nodiscard]] std::int64_t wal_pages() const { return wal_pages_; }
    [[nodiscard]] std::uint64_t wal_budget() const { return wal_budget_; }
    [[nodiscard]] std::uint64_t schema_bytes() const { return schema_bytes_; }

    // Readings received before this are past max_age.
    [[nodiscard]] std::int64_t age_cutoff(std::int64_t received_now) const;

    // max_size bounds the file and its WAL as they are on disk. Past the schema's own pages
    // and the WAL's budget, the data is brought back to three quarters of the room left once
    // it passes seven eighths, so that the next flushes fit without dropping again at once.
    // Deciding on the pages in use (not the file size) keeps a reader that holds the WAL from
    // making the buffer drop more than it must.
    // Whether to start dropping: the pages in use past seven eighths, or the file past max_size.
    [[nodiscard]] bool over_size(std::uint64_t used_bytes, std::uint64_t file_bytes) const;
    // Whether to drop another step: the pages in use still past three quarters.
    [[nodiscard]] bool above_target(std::uint64_t used_bytes) const;
    // How many of the oldest rows the next step drops: as many as half the WAL's budget holds
    // (a delete rewrites the pages it frees), at least one.
    [[nodiscard]] std::uint64_t size_step(std::uint64_t used_bytes, std::uint64_t readings) const;

private:
    std::uint64_t max_size_ = 0;
    std::int64_t max_age_ms_ = 0;
    std::int64_t wal_pages_ = 2;
    std::uint64_t wal_budget_ = 0;
    std::uint64_t schema_bytes_ = 0;
    std::uint64_t room_ = 0; // for the data: max_size less the schema and the WAL (a page at least)
};

// One drop's rows: fed the oldest rows not loaded for replay, oldest first (by id, arrival),
// takes them up to the first received at or after `received_before` (a max_age run ends at
// the first reading young enough), and leaves alone those in flight (`keep`).
class drop_pick {
public:
    drop_pick(std::int64_t received_before, const std::vector<std::int64_t>& keep)
        : received_before_(received_before)
        , keep_(keep) {}

    // false: this row and every later one stay; stop reading.
    bool offer(const limit_row& r);
    [[nodiscard]] const std::vector<limit_row>& rows() const { return rows_; }

private:
    std::int64_t received_before_;
    const std::vector<std::int64_t>& keep_;
    std::vector<limit_row> rows_;
};

} // namespace mb::buffer
