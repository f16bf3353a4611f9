#pragma once
// Readings between their source and the broker's PUBACK, held in memory. This is the stand-in
// for the SQLite store-and-forward buffer (its own issue): same shape — a reading goes in and
// gets its seq, readings are handed to the uplink while its window has room, a PUBACK for a
// message id takes one out — but nothing survives a restart and the bound is the memory the
// readings take.
// Loop thread only.
#include "bridge/model/buffer_stats.hpp"
#include "bridge/model/log.hpp"
#include "bridge/model/reading.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace mb::buffer {

class memory_queue {
public:
    // Publishes one reading; returns its message id, or nullopt when the uplink cannot take
    // it now (disconnected, window full).
    using publish_fn = std::function<std::optional<int>(const model::reading&)>;

    explicit memory_queue(std::size_t capacity_bytes)
        : capacity_bytes_(capacity_bytes) {}

    // Assigns the device's next seq and queues the reading; past capacity the oldest readings
    // not yet handed to the uplink are dropped and counted.
    void push(model::reading r);
    // Hands queued readings to `publish` in order until it refuses one.
    void pump(const publish_fn& publish);
    // The broker acknowledged this message id.
    void acked(int mid);
    // The broker refused this message id for good (PUBACK reason >= 0x80): dropped, counted.
    void refused(int mid);
    // The uplink instance was recreated: whatever it held in flight must be sent again.
    void requeue_inflight();

    [[nodiscard]] model::buffer_stats stats() const;
    [[nodiscard]] std::size_t size() const { return entries_.size(); }
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    // Heap and object bytes one reading holds (an estimate that errs high).
    [[nodiscard]] static std::size_t footprint(const model::reading& r);

private:
    struct entry {
        model::reading reading;
        std::optional<int> mid; // set once handed to the uplink
    };

    void erase(std::map<std::uint64_t, entry>::iterator it);

    std::size_t capacity_bytes_;
    std::size_t bytes_ = 0;
    std::uint64_t next_key_ = 1;
    std::map<std::uint64_t, entry> entries_;        // by arrival order
    std::unordered_map<int, std::uint64_t> by_mid_; // in flight
    std::map<std::string, std::uint64_t> last_seq_;
    std::uint64_t dropped_ = 0;
    log::rate_limiter drop_log_;
};

} // namespace mb::buffer
