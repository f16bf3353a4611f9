#pragma once
// The delivery queue held in memory: the stand-in for the SQLite store-and-forward buffer (its
// own issue). Same contract (delivery_queue.hpp), but nothing survives a restart and the bound
// is the memory the items take: past it the oldest readings not in flight are dropped, counted
// per device and announced as a gap of reason "max_size". Loop thread only.
#include "bridge/model/gap.hpp"
#include "bridge/model/log.hpp"
#include "buffer/delivery_queue.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace mb::buffer {

class memory_queue final : public delivery_queue {
public:
    explicit memory_queue(std::size_t capacity_bytes)
        : capacity_bytes_(capacity_bytes) {}

    std::uint64_t push(model::reading r) override;
    void pump(model::outlet& out) override;
    void acked(int mid) override;
    void refused(int mid, const std::string& reason) override;
    void requeue_inflight() override;
    void close(std::function<void()> done) override;

    [[nodiscard]] model::buffer_stats stats() const override;
    [[nodiscard]] std::size_t inflight() const override { return by_mid_.size(); }
    [[nodiscard]] std::size_t size() const override { return entries_.size(); }
    [[nodiscard]] std::uint64_t dropped() const override { return dropped_total_; }
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    // Heap and object bytes one item holds (an estimate that errs high).
    [[nodiscard]] static std::size_t footprint(const model::reading& r);

private:
    using item = std::variant<model::reading, model::gap>;
    struct entry {
        item what;
        std::optional<int> mid; // set once handed to the outlet
    };
    using entries = std::map<std::uint64_t, entry>; // by arrival order

    [[nodiscard]] static std::size_t footprint(const item& i);
    void add(item i);
    void erase(entries::iterator it);
    // A reading that will never be delivered: counted, and its seq joins (or opens) the
    // device's gap of that reason not yet handed over.
    void drop(const model::reading& r, model::gap_reason why);
    // The gap at `it` is sent or gone: later drops open a new one.
    void seal_gap(entries::const_iterator it);
    void drop_oldest_for(std::size_t need);

    std::size_t capacity_bytes_;
    std::size_t bytes_ = 0;
    std::uint64_t next_key_ = 1;
    entries entries_;
    std::unordered_map<int, std::uint64_t> by_mid_; // in flight
    std::map<std::string, std::uint64_t> last_seq_;
    std::map<std::string, std::uint64_t> dropped_;
    std::uint64_t dropped_total_ = 0;
    std::map<std::pair<std::string, model::gap_reason>, std::uint64_t> open_gaps_; // -> key
    std::size_t readings_ = 0;
    log::rate_limiter drop_log_;
};

} // namespace mb::buffer
