#include "buffer/memory_queue.hpp"

#include "bridge/model/log.hpp"

namespace mb::buffer {

std::size_t memory_queue::footprint(const model::reading& r) {
    // A map node, the reading, and each value's pair plus its name when it does not fit the
    // string's inline buffer.
    constexpr std::size_t node_overhead = 64;
    std::size_t n = node_overhead + sizeof(entry) + r.device.capacity();
    n += r.values.capacity() * sizeof(r.values.front());
    for (const auto& [name, value] : r.values)
        n += name.capacity() + 1;
    return n;
}

void memory_queue::erase(std::map<std::uint64_t, entry>::iterator it) {
    bytes_ -= footprint(it->second.reading);
    entries_.erase(it);
}

void memory_queue::push(model::reading r) {
    r.seq = ++last_seq_[r.device];
    const std::size_t need = footprint(r);
    for (auto it = entries_.begin(); bytes_ + need > capacity_bytes_ && it != entries_.end();) {
        if (it->second.mid) { // in flight: libmosquitto still owns it
            ++it;
            continue;
        }
        if (const long held = drop_log_.allow("full"); held >= 0)
            log::warn("buffer: memory queue full ({} readings, {} KiB): dropped {} seq {}{}",
                      entries_.size(), bytes_ >> 10U, it->second.reading.device,
                      it->second.reading.seq,
                      held > 0 ? fmt::format(" ({} more since)", held) : "");
        ++dropped_;
        erase(it++);
    }
    bytes_ += need;
    entries_.emplace(next_key_++, entry{std::move(r), std::nullopt});
}

void memory_queue::pump(const publish_fn& publish) {
    for (auto& [key, e] : entries_) {
        if (e.mid) continue;
        const auto mid = publish(e.reading);
        if (!mid) return;
        e.mid = *mid;
        by_mid_[*mid] = key;
    }
}

void memory_queue::acked(int mid) {
    const auto it = by_mid_.find(mid);
    if (it == by_mid_.end()) return;
    erase(entries_.find(it->second));
    by_mid_.erase(it);
}

void memory_queue::refused(int mid) {
    if (by_mid_.contains(mid)) ++dropped_;
    acked(mid);
}

void memory_queue::requeue_inflight() {
    for (auto& [key, e] : entries_)
        e.mid.reset();
    by_mid_.clear();
}

model::buffer_stats memory_queue::stats() const {
    model::buffer_stats s;
    s.readings = entries_.size();
    if (!entries_.empty()) s.oldest_ts = entries_.begin()->second.reading.ts_ms;
    s.dropped = dropped_;
    return s;
}

} // namespace mb::buffer
