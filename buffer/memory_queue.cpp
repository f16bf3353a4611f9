#include "buffer/memory_queue.hpp"

#include "bridge/model/log.hpp"

#include <fmt/format.h>

namespace mb::buffer {
namespace {

std::string held_text(long held) {
    return held > 0 ? fmt::format(" ({} more since)", held) : std::string();
}

} // namespace

std::size_t memory_queue::footprint(const model::reading& r) {
    // A map node, the entry, and each value's pair plus its name when it does not fit the
    // string's inline buffer.
    constexpr std::size_t node_overhead = 64;
    std::size_t n = node_overhead + sizeof(entry) + r.device.capacity();
    n += r.values.capacity() * sizeof(r.values.front());
    for (const auto& [name, value] : r.values)
        n += name.capacity() + 1;
    return n;
}

std::size_t memory_queue::footprint(const item& i) {
    if (const auto* r = std::get_if<model::reading>(&i)) return footprint(*r);
    constexpr std::size_t node_overhead = 64;
    return node_overhead + sizeof(entry) + std::get<model::gap>(i).device.capacity();
}

void memory_queue::add(item i) {
    bytes_ += footprint(i);
    if (std::holds_alternative<model::reading>(i)) ++readings_;
    entries_.emplace(next_key_++, entry{std::move(i), std::nullopt});
}

void memory_queue::erase(entries::iterator it) {
    bytes_ -= footprint(it->second.what);
    if (std::holds_alternative<model::gap>(it->second.what)) {
        seal_gap(it);
    } else {
        --readings_;
    }
    entries_.erase(it);
}

void memory_queue::seal_gap(entries::const_iterator it) {
    const auto& g = std::get<model::gap>(it->second.what);
    const auto open = open_gaps_.find({g.device, g.reason});
    if (open != open_gaps_.end() && open->second == it->first) open_gaps_.erase(open);
}

void memory_queue::drop(const model::reading& r, model::gap_reason why) {
    ++dropped_[r.device];
    ++dropped_total_;
    const auto open = open_gaps_.find({r.device, why});
    if (open != open_gaps_.end()) {
        auto& g = std::get<model::gap>(entries_.at(open->second).what);
        if (g.to_seq + 1 == r.seq) {
            g.to_seq = r.seq;
            g.to_ts = r.ts_ms;
            return;
        }
    }
    const auto key = next_key_;
    add(model::gap{r.device, why, r.seq, r.seq, r.ts_ms, r.ts_ms});
    open_gaps_[{r.device, why}] = key;
}

void memory_queue::drop_oldest_for(std::size_t need) {
    for (auto it = entries_.begin(); bytes_ + need > capacity_bytes_ && it != entries_.end();) {
        const auto* r = std::get_if<model::reading>(&it->second.what);
        if (it->second.mid || r == nullptr) { // in flight (libmosquitto owns it), or a gap
            ++it;
            continue;
        }
        if (const long held = drop_log_.allow("full"); held >= 0)
            log::warn("buffer: memory queue full ({} items, {} KiB): dropped {} seq {}{}",
                      entries_.size(), bytes_ >> 10U, r->device, r->seq, held_text(held));
        const model::reading gone = *r; // erase() counts the bytes it held
        erase(it++);
        drop(gone, model::gap_reason::max_size);
    }
}

std::uint64_t memory_queue::push(model::reading r) {
    r.seq = ++last_seq_[r.device];
    const auto seq = r.seq;
    drop_oldest_for(footprint(r));
    add(std::move(r));
    return seq;
}

void memory_queue::pump(model::outlet& out) {
    using outcome = model::publish_attempt::outcome;
    for (auto it = entries_.begin(); it != entries_.end();) {
        auto& e = it->second;
        if (e.mid) {
            ++it;
            continue;
        }
        const auto attempt =
            std::visit([&](const auto& what) { return out.publish(what); }, e.what);
        if (attempt.what == outcome::retry) return;
        if (attempt.what == outcome::sent) {
            e.mid = attempt.mid;
            by_mid_[attempt.mid] = it->first;
            if (std::holds_alternative<model::gap>(e.what)) seal_gap(it); // sent as it is
            ++it;
            continue;
        }
        // Refused for good: the same bytes would be refused again. A gap (recorded after this
        // item, so this loop reaches it) says which reading is missing and why.
        if (const auto* r = std::get_if<model::reading>(&e.what)) {
            if (const long held = drop_log_.allow("refused:" + r->device); held >= 0)
                log::error("buffer: {} seq {} refused by the uplink: {}; dropped, announced as a "
                           "gap{}",
                           r->device, r->seq, attempt.reason, held_text(held));
            const model::reading gone = *r;
            erase(it++);
            drop(gone, model::gap_reason::refused);
        } else {
            const auto& g = std::get<model::gap>(e.what);
            log::error("buffer: the gap message of {} (seq {}..{}) was refused by the uplink: "
                       "{}; dropped",
                       g.device, g.from_seq, g.to_seq, attempt.reason);
            erase(it++);
        }
    }
}

void memory_queue::acked(int mid) {
    const auto it = by_mid_.find(mid);
    if (it == by_mid_.end()) return;
    const auto entry = entries_.find(it->second);
    by_mid_.erase(it);
    if (entry != entries_.end()) erase(entry);
}

void memory_queue::refused(int mid, const std::string& reason) {
    const auto it = by_mid_.find(mid);
    if (it == by_mid_.end()) return;
    const auto key = it->second;
    by_mid_.erase(it);
    const auto e = entries_.find(key);
    if (e == entries_.end()) return;
    const auto* r = std::get_if<model::reading>(&e->second.what);
    if (r == nullptr) {
        log::error("buffer: the broker refused a gap message ({}); dropped", reason);
        erase(e);
        return;
    }
    if (const long held = drop_log_.allow("refused:" + r->device); held >= 0)
        log::error("buffer: {} seq {} refused by the broker: {}; dropped, announced as a gap{}",
                   r->device, r->seq, reason, held_text(held));
    const model::reading gone = *r;
    erase(e);
    drop(gone, model::gap_reason::refused);
    ready(); // the gap waits to be sent
}

void memory_queue::requeue_inflight() {
    for (auto& [key, e] : entries_)
        e.mid.reset();
    by_mid_.clear();
    ready();
}

void memory_queue::close(std::function<void()> done) {
    if (readings_ > 0)
        log::warn("buffer: {} reading(s) not acknowledged by the broker are lost (held in memory "
                  "only: the store-and-forward buffer is not built yet)",
                  readings_);
    if (done) done();
}

model::buffer_stats memory_queue::stats() const {
    model::buffer_stats s;
    s.readings = readings_;
    for (const auto& [key, e] : entries_) {
        if (const auto* r = std::get_if<model::reading>(&e.what)) {
            s.oldest_ts = r->ts_ms;
            break;
        }
    }
    s.dropped_by_device = dropped_;
    s.dropped = dropped_total_;
    return s;
}

open_result open_delivery_queue(uv_loop_t& /*loop*/, const buffer_settings& /*settings*/) {
    // Until the SQLite store lands the [buffer] settings are not acted on (check and the
    // startup log say so): readings are held in memory, at most this many bytes.
    constexpr std::size_t memory_bytes = 64U << 20U;
    open_result r;
    r.queue = std::make_unique<memory_queue>(memory_bytes);
    return r;
}

} // namespace mb::buffer
