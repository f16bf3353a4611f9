#include "buffer/sqlite_queue.hpp"

#include "buffer/footprint.hpp"

#include <fmt/format.h>

namespace mb::buffer {
sqlite_queue::sqlite_queue(uv_loop_t& loop, buffer_settings settings, const common::clock& clock)
    : settings_(std::move(settings))
    , clock_(clock)
    , store_(std::make_unique<store>(settings_))
    , writer_(std::make_unique<writer_thread>(loop))
    , tick_(make_uv_timer(loop, this)) {
    const auto period = std::max<std::int64_t>(settings_.flush_interval.count() / 2, 5);
    uv_timer_start(tick_.get(), &on_tick, static_cast<std::uint64_t>(period),
                   static_cast<std::uint64_t>(period));
}

sqlite_queue::~sqlite_queue() {
    writer_.reset(); // its last jobs finish on its thread; their continuations are dropped
}

std::uint64_t sqlite_queue::add_live(item i, bool held, std::int64_t received) {
    const auto key = next_key_++;
    mem_bytes_ += footprint(i);
    if (std::holds_alternative<model::reading>(i)) {
        ++mem_readings_;
        if (held) ++held_readings_;
    }
    live_.emplace(key,
                  entry{std::move(i), std::nullopt, 0, false, held, clock_.steady(), received});
    live_unsent_.insert(key);
    return key;
}

// The entry leaves memory (acknowledged, dropped, or safely on disk and not in flight).
void sqlite_queue::forget_live(std::map<std::uint64_t, entry>::iterator it) {
    auto& e = it->second;
    if (e.held && std::holds_alternative<model::reading>(e.what)) --held_readings_;
    if (e.row == 0) {
        mem_bytes_ -= footprint(e.what);
        if (std::holds_alternative<model::reading>(e.what)) --mem_readings_;
    } else {
        live_rows_.erase(e.row);
    }
    if (const auto* g = std::get_if<model::gap>(&e.what)) {
        const auto open = open_gaps_.find({g->device, g->reason});
        if (open != open_gaps_.end() && open->second == it->first) open_gaps_.erase(open);
    }
    live_unsent_.erase(it->first);
    live_.erase(it);
}

void sqlite_queue::delete_row(std::int64_t row, bool reading) {
    to_delete_.push_back(row);
    deleting_.insert(row);
    if (reading) ++deleting_readings_;
}

void sqlite_queue::reserve_ahead(const std::string& device, seq_state& s) {
    if (s.requested >= s.last + reserve_step / 2) return;
    s.requested = std::max(s.requested, s.last) + reserve_step;
    reservations_[device] = s.requested;
    if (!flushing_ && store_open_) flush(); // now, not at the next tick: a reading may wait
}

std::uint64_t sqlite_queue::push(model::reading r) {
    auto& s = seqs_[r.device];
    r.seq = ++s.last;
    const auto seq = r.seq;
    // Above the committed reservation, a crash could hand this seq out again: it waits for the
    // commit, however long the file takes to take one (a full disk: in memory, bounded).
    const bool held = beyond_reservation(r.device, seq);
    auto device = r.device;
    add_live(std::move(r), held, ages_.now());
    reserve_ahead(device, s);
    // Only a file that fails makes memory the store; while it takes them, the readings
    // waiting for the next flush are not a backlog to bound.
    if (!store_ok_ && mem_bytes_ > memory_cap) drop_for_memory();
    return seq;
}

bool sqlite_queue::beyond_reservation(const std::string& device, std::uint64_t seq) const {
    // Before the file opened nothing is reserved: every seq waits (renumber_for_file).
    if (!numbered_by_file_) return true;
    const auto it = seqs_.find(device);
    return it == seqs_.end() || seq > it->second.reserved;
}

void sqlite_queue::renumber_for_file(const std::map<std::string, std::uint64_t>& file_last) {
    // Numbered in memory before the file opened: none of these went out (nothing was
    // reserved), so each device's take the numbers that follow the file's last, in order.
    reservations_.clear();
    for (const auto& [device, last] : file_last)
        seqs_[device];
    for (auto& [device, s] : seqs_) {
        const auto last = file_last.find(device);
        s = seq_state{};
        if (last != file_last.end()) s.last = s.reserved = s.requested = last->second;
    }
    for (auto& [key, e] : live_) {
        auto& s = seqs_[device_of(e.what)];
        if (auto* r = std::get_if<model::reading>(&e.what)) {
            r->seq = ++s.last;
        } else if (auto* g = std::get_if<model::gap>(&e.what)) {
            const auto n = g->to_seq - g->from_seq;
            g->from_seq = s.last + 1;
            g->to_seq = g->from_seq + n;
            s.last = g->to_seq;
        }
    }
    for (auto& [device, s] : seqs_)
        reserve_ahead(device, s);
}

void sqlite_queue::release_held(const std::string& device, std::uint64_t upto) {
    for (const auto key : live_unsent_) {
        auto& e = live_.at(key);
        if (!e.held || device_of(e.what) != device) continue;
        if (last_seq_of(e.what) > upto) continue;
        e.held = false;
        if (std::holds_alternative<model::reading>(e.what)) --held_readings_;
    }
}

void sqlite_queue::drop(const model::reading& r, model::gap_reason why) {
    ++dropped_[r.device];
    ++dropped_unsaved_[r.device];
    ++dropped_total_;
    const auto open = open_gaps_.find({r.device, why});
    if (open != open_gaps_.end()) {
        auto& e = live_.at(open->second);
        auto& g = std::get<model::gap>(e.what);
        if (!e.mid && !e.writing && e.row == 0 && g.to_seq + 1 == r.seq) {
            g.to_seq = r.seq;
            g.from_ts = std::min(g.from_ts, r.ts_ms); // a clock stepped back between the two
            g.to_ts = std::max(g.to_ts, r.ts_ms);
            e.held = e.held || beyond_reservation(r.device, r.seq);
            return;
        }
    }
    // A gap names seqs too: one above the reservation waits for it like a reading would.
    open_gaps_[{r.device, why}] =
        add_live(model::gap{r.device, why, r.seq, r.seq, r.ts_ms, r.ts_ms},
                 beyond_reservation(r.device, r.seq), 0);
}

// The file cannot take what waits in memory: the oldest readings not in flight and not being
// written go, counted and announced, so that memory stays bounded.
void sqlite_queue::drop_for_memory() {
    for (auto it = live_.begin(); mem_bytes_ > memory_cap / 10 * 9 && it != live_.end();) {
        const auto* r = std::get_if<model::reading>(&it->second.what);
        if (r == nullptr || it->second.mid || it->second.writing || it->second.row != 0) {
            ++it;
            continue;
        }
        if (const long held = log_limit_.allow("memory"); held >= 0)
            log::warn("buffer: {} readings wait in memory ({} KiB) and the file cannot take them: "
                      "dropped {} seq {}{}",
                      mem_readings_, mem_bytes_ >> 10U, r->device, r->seq,
                      log::suppressed_note(held));
        const model::reading gone = *r;
        forget_live(it++);
        drop(gone, model::gap_reason::max_size);
    }
}

bool sqlite_queue::too_old(const entry& e) {
    return std::holds_alternative<model::reading>(e.what) &&
           ages_.now() - e.received > settings_.max_age.count();
}

sqlite_queue::offered sqlite_queue::offer(model::outlet& out, bool live, std::uint64_t key,
                                          entry& e) {
    using outcome = model::publish_attempt::outcome;
    if (too_old(e)) { // held in memory past max_age (loaded before an outage, …)
        const auto gone = std::get<model::reading>(take_out(live, key));
        if (const long held = log_limit_.allow("max_age:" + gone.device); held >= 0)
            log::warn("buffer: {} seq {} is older than max_age; dropped, announced as a gap{}",
                      gone.device, gone.seq, log::suppressed_note(held));
        drop(gone, model::gap_reason::max_age);
        return offered::removed;
    }
    const auto a = std::visit([&](const auto& what) { return out.publish(what); }, e.what);
    if (a.what == outcome::retry) return offered::retry;
    if (a.what == outcome::refused) {
        handle_refused(take_out(live, key), a.reason);
        return offered::removed;
    }
    e.mid = a.mid;
    by_mid_[a.mid] = {live, static_cast<std::int64_t>(key)};
    if (!live) return offered::sent;
    if (const auto* g = std::get_if<model::gap>(&e.what)) // sent as it is
        if (const auto o = open_gaps_.find({g->device, g->reason});
            o != open_gaps_.end() && o->second == key)
            open_gaps_.erase(o);
    return offered::sent;
}

void sqlite_queue::pump(model::outlet& out) {
    // Nothing to offer a link that is down (it would answer retry), and no backlog to load:
    // what is on disk stays there, where max_age and max_size can still reach it.
    if (!out.connected()) return;
    // Live first, then the backlog, in whatever room the live readings leave. An entry taken
    // out (too old, refused) may add a gap entry after it: the loops go on from the next key.
    for (auto it = live_unsent_.begin(); it != live_unsent_.end();) {
        const auto key = *it;
        auto& e = live_.at(key);
        if (e.held) {
            ++it;
            continue;
        }
        const auto o = offer(out, true, key, e);
        if (o == offered::retry) return read_backlog();
        if (o == offered::sent) live_unsent_.erase(key);
        it = live_unsent_.upper_bound(key);
    }
    for (auto it = replay_unsent_.begin(); it != replay_unsent_.end();) {
        // Acknowledged but still on disk: sent again after a crash. The replay waits for their
        // delete to commit rather than let them pile up.
        if (deleting_.size() >= unconfirmed_max) break;
        const auto row = *it;
        const auto o = offer(out, false, static_cast<std::uint64_t>(row), replay_.at(row));
        if (o == offered::retry) break;
        if (o == offered::sent) replay_unsent_.erase(row);
        it = replay_unsent_.upper_bound(row);
    }
    read_backlog();
}

item sqlite_queue::take_out(bool live, std::uint64_t key) {
    item what;
    if (live) {
        const auto it = live_.find(key);
        what = it->second.what; // a copy: forget_live still reads it for its footprint
        if (it->second.row != 0) delete_row(it->second.row, what.index() == 0);
        if (it->second.writing) acked_writing_.insert(key);
        forget_live(it);
    } else {
        const auto row = static_cast<std::int64_t>(key);
        what = std::move(replay_.at(row).what);
        delete_row(row, what.index() == 0);
        replay_unsent_.erase(row);
        replay_.erase(row);
    }
    return what;
}

void sqlite_queue::handle_refused(const item& what, const std::string& reason) {
    // Refused for good: the same bytes would be refused again. A gap says which reading is
    // missing and why; a refused gap message can only be logged.
    if (const auto* r = std::get_if<model::reading>(&what)) {
        if (const long held = log_limit_.allow("refused:" + r->device); held >= 0)
            log::error("buffer: {} seq {} refused by the uplink: {}; dropped, announced as a gap{}",
                       r->device, r->seq, reason, log::suppressed_note(held));
        drop(*r, model::gap_reason::refused);
        ready(); // the gap waits to be sent
    } else {
        const auto& g = std::get<model::gap>(what);
        log::error("buffer: the gap message of {} (seq {}..{}) was refused by the uplink: {}; "
                   "dropped",
                   g.device, g.from_seq, g.to_seq, reason);
    }
}

void sqlite_queue::acked(int mid) {
    const auto w = by_mid_.find(mid);
    if (w == by_mid_.end()) return;
    const auto [live, key] = w->second;
    by_mid_.erase(w);
    if (!live) {
        const auto it = replay_.find(key);
        if (it == replay_.end()) return;
        delete_row(key, it->second.what.index() == 0);
        replay_.erase(it);
        return confirm_deletes();
    }
    const auto it = live_.find(static_cast<std::uint64_t>(key));
    if (it == live_.end()) return;
    if (it->second.row != 0) delete_row(it->second.row, it->second.what.index() == 0);
    if (it->second.writing) acked_writing_.insert(it->first);
    forget_live(it);
}

void sqlite_queue::confirm_deletes() {
    if (to_delete_.size() >= delete_batch) flush();
}

void sqlite_queue::refused(int mid, const std::string& reason) {
    const auto w = by_mid_.find(mid);
    if (w == by_mid_.end()) return;
    const auto [live, key] = w->second;
    by_mid_.erase(w);
    if (live ? !live_.contains(static_cast<std::uint64_t>(key)) : !replay_.contains(key)) return;
    handle_refused(take_out(live, static_cast<std::uint64_t>(key)), reason);
}

void sqlite_queue::requeue_inflight() {
    for (const auto& [mid, w] : by_mid_) {
        if (w.live) {
            if (const auto it = live_.find(static_cast<std::uint64_t>(w.key)); it != live_.end()) {
                it->second.mid.reset();
                live_unsent_.insert(it->first);
            }
        } else if (const auto it = replay_.find(w.key); it != replay_.end()) {
            it->second.mid.reset();
            replay_unsent_.insert(it->first);
        }
    }
    by_mid_.clear();
    ready();
}

std::size_t sqlite_queue::size() const {
    const auto stored =
        disk_.readings > deleting_readings_ ? disk_.readings - deleting_readings_ : 0;
    return static_cast<std::size_t>(stored + mem_readings_);
}

model::buffer_stats sqlite_queue::stats() const {
    model::buffer_stats s;
    s.readings = size();
    s.oldest_ts = disk_.oldest_ts;
    for (const auto& [key, e] : live_) {
        const auto* r = std::get_if<model::reading>(&e.what);
        if (r == nullptr || e.row != 0) continue;
        if (!s.oldest_ts || r->ts_ms < *s.oldest_ts) s.oldest_ts = r->ts_ms;
        break;
    }
    if (s.readings == 0) s.oldest_ts.reset();
    s.dropped_by_device = dropped_;
    s.dropped = dropped_total_;
    s.held = held_readings();
    s.error = store_error_;
    s.moved_aside = moved_aside_;
    s.rebuilt = rebuilt_;
    if (store_id_ != 0) s.store_id = fmt::format("{:016x}", store_id_);
    return s;
}

} // namespace mb::buffer
