#include "buffer/memory_queue.hpp"

#include "daemon/log/log.hpp"

namespace mb::buffer {

void memory_queue::push(bridge::reading r) {
    r.seq = ++last_seq_[r.device];
    if (entries_.size() >= capacity_) {
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->second.mid) continue; // in flight: libmosquitto still owns it
            log::warn("buffer: memory queue full ({} readings): dropped {} seq {}", capacity_,
                      it->second.reading.device, it->second.reading.seq);
            entries_.erase(it);
            ++dropped_;
            break;
        }
    }
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
    entries_.erase(it->second);
    by_mid_.erase(it);
}

void memory_queue::requeue_inflight() {
    for (auto& [key, e] : entries_)
        e.mid.reset();
    by_mid_.clear();
}

bridge::buffer_stats memory_queue::stats() const {
    bridge::buffer_stats s;
    s.readings = entries_.size();
    if (!entries_.empty()) s.oldest_ts = entries_.begin()->second.reading.ts_ms;
    s.dropped = dropped_;
    return s;
}

} // namespace mb::buffer
