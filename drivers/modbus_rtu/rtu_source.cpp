#include "drivers/modbus_rtu/rtu_source.hpp"

#include "common/log.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"
#include "model/measurements.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

namespace mb::drivers::rtu {

rtu_source::rtu_source(uv_loop_t& loop, std::vector<bus_settings> buses, source::callbacks cb,
                       const common::clock& clock)
    : loop_(loop)
    , buses_(std::move(buses))
    , cb_(std::move(cb))
    , clock_(clock) {
    for (std::size_t b = 0; b < buses_.size(); ++b) {
        states_.emplace_back();
        for (std::size_t i = 0; i < buses_[b].devices.size(); ++i) {
            const auto& d = buses_[b].devices[i];
            by_name_.emplace(d.name, device_ref{b, i});
            device_state st;
            st.status.device = d.name;
            st.status.state = model::device_state::offline; // until it first answers
            st.status.line.emplace();
            st.status.ts_ms = clock_.unix_ms();
            states_[b].push_back(std::move(st));
        }
    }
}

rtu_source::~rtu_source() {
    // Every bus asked first, so that the joins below overlap: one request timeout, not N.
    for (auto& w : workers_)
        w->request_stop();
    workers_.clear(); // joins the threads still running (none once stop's `done` has run)
    fail_pending(std::nullopt, "stopped");
}

std::string rtu_source::name() const {
    std::string names;
    for (const auto& b : buses_)
        names += (names.empty() ? "" : ",") + b.name;
    return "rtu[" + names + "]";
}

void rtu_source::start() {
    if (phase_ != phase::idle) return;
    phase_ = phase::running;
    for (std::size_t b = 0; b < buses_.size(); ++b) {
        workers_.push_back(std::make_unique<bus_worker>(
            loop_, buses_[b], clock_, [this, b](poll_result&& r) { on_result(b, std::move(r)); },
            [this, b] { on_bus_ended(b); }));
        if (const auto& err = workers_.back()->start_error(); !err.empty()) {
            log::error("rtu[{}]: {}", buses_[b].name, err);
            for (std::size_t i = 0; i < states_[b].size(); ++i)
                set_state(b, i, model::device_state::offline, err);
        }
    }
}

void rtu_source::stop(std::function<void()> done) {
    stop_done_.push_back(std::move(done));
    if (phase_ == phase::running)
        for (auto& w : workers_) // every bus at once: stopping costs one request timeout, not N
            w->request_stop();
    // Never started, or stopped already: every bus has ended, `done` runs below.
    phase_ = phase::stopping;
    finish_stop_if_ended();
}

void rtu_source::on_bus_ended(std::size_t bus) {
    fail_pending(bus, "stopped");
    finish_stop_if_ended();
}

void rtu_source::finish_stop_if_ended() {
    if (phase_ != phase::stopping) return;
    if (std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return !w->ended(); }))
        return;
    phase_ = phase::stopped;
    fail_pending(std::nullopt, "stopped");
    // Last: a `done` may destroy this source (the bus_workers have closed their handles).
    auto waiting = std::move(stop_done_);
    stop_done_.clear();
    for (auto& done : waiting)
        if (done) done();
}

const device_settings* rtu_source::find(std::string_view device, device_ref& ref) const {
    auto it = by_name_.find(device);
    if (it == by_name_.end()) return nullptr;
    ref = it->second;
    return &buses_[ref.bus].devices[ref.index];
}

const model::device_status* rtu_source::status(std::string_view device) const {
    device_ref ref{};
    if (find(device, ref) == nullptr) return nullptr;
    return &states_[ref.bus][ref.index].status;
}

std::vector<model::device_info> rtu_source::devices() const {
    std::vector<model::device_info> out;
    for (std::size_t b = 0; b < buses_.size(); ++b)
        for (std::size_t i = 0; i < buses_[b].devices.size(); ++i)
            out.push_back(info_of(b, i));
    return out;
}

model::device_info rtu_source::info_of(std::size_t bus, std::size_t index) const {
    const auto& d = buses_[bus].devices[index];
    model::device_info info;
    info.name = d.name;
    info.source = "rtu";
    info.bus = buses_[bus].name;
    info.unit = d.unit;
    info.interval_ms = d.interval.count();
    if (!d.prof) return info;
    info.profile = d.prof->id;
    info.vendor = d.prof->vendor;
    info.model = d.prof->model;
    model::units_table::map units;
    model::counter_limits limits;
    limits.max_power_w = d.max_power_w;
    for (const auto& v : d.prof->values) {
        const bool wanted =
            d.only.empty() || std::any_of(d.only.begin(), d.only.end(),
                                          [&](auto& g) { return glob_match(g, v.name); });
        if (wanted) units[v.name] = std::string(model::unit_of(v.name).value_or(""));
        if (v.writable) info.writable[v.name] = model::writable_range{v.min, v.max};
        if (const auto id = model::measurement_of(v.name); wanted && v.wraps && id)
            limits.wraps.emplace_back(*id, wrap_range(v));
    }
    info.units = model::units_table(std::move(units));
    if (!limits.empty()) info.counters = std::make_shared<const model::counter_limits>(limits);
    if (d.prof->secondary) {
        const auto& known = states_[bus][index].ratios;
        info.pt_ratio = d.pt_ratio ? d.pt_ratio : known.pt;
        info.ct_ratio = d.ct_ratio ? d.ct_ratio : known.ct;
    }
    return info;
}

void rtu_source::set_state(std::size_t bus, std::size_t index, model::device_state s,
                           const std::string& error, const std::string& detail) {
    device_state& d = states_[bus][index];
    // Online says nothing went wrong (docs/topics.md: "last_error":null); every other state
    // says why, and the latest reason replaces an older one.
    if (s == model::device_state::online)
        d.status.last_error.reset();
    else if (!error.empty())
        d.status.last_error = error;
    if (d.seen && d.status.state == s) return;
    const auto now = clock_.steady();
    const bool again = d.seen && d.status.state != model::device_state::online;
    const auto away = std::chrono::duration_cast<std::chrono::milliseconds>(now - d.since);
    d.seen = true;
    d.status.state = s;
    d.status.ts_ms = clock_.unix_ms();
    d.since = now;
    const auto& dev = buses_[bus].devices[index];
    const auto prefix = fmt::format("rtu[{}] {}(unit {})", buses_[bus].name, dev.name, dev.unit);
    switch (s) {
    case model::device_state::online:
        if (again)
            log::info("{}: online again after {}", prefix, pretty_duration(away));
        else
            log::info("{}: online", prefix);
        break;
    case model::device_state::offline:
        log::warn("{}: offline: {}", prefix, detail.empty() ? error : detail);
        break;
    case model::device_state::error:
        log::warn("{}: error: {}", prefix, detail.empty() ? error : detail);
        break;
    }
    if (cb_.on_status) cb_.on_status(d.status);
}

void rtu_source::on_result(std::size_t bus, poll_result&& r) {
    if (bus >= workers_.size()) return;
    if (r.what == poll_result::kind::port_state) return on_port_state(bus, r);
    if (r.device >= states_[bus].size()) return;
    if (r.what == poll_result::kind::poll) return on_poll(bus, r);
    if (r.what == poll_result::kind::read) return on_read(bus, r);
    on_write(bus, r);
}

void rtu_source::on_port_state(std::size_t bus, const poll_result& r) {
    if (r.port_open) return; // devices come back online with their first answer
    // The line is gone: no device on it can answer, say so at once rather than 3 polls later.
    for (std::size_t i = 0; i < states_[bus].size(); ++i)
        set_state(bus, i, model::device_state::offline, r.error);
}

void rtu_source::on_poll(std::size_t bus, poll_result& r) {
    auto& st = states_[bus][r.device];
    const auto& dev = buses_[bus].devices[r.device];
    const auto& plan = workers_[bus]->decode_plan(r.device);
    const auto ratios_before = st.ratios;
    auto decoded = decode_results(plan, r.requests, dev.pt_ratio, dev.ct_ratio, &st.ratios);
    note_ratios(bus, r.device, ratios_before);
    st.status.polls = r.counters.polls;
    // An RS485 device has its line's counters from the start.
    auto& line = st.status.line ? *st.status.line : st.status.line.emplace();
    line.timeouts = r.counters.timeouts;
    line.skipped = r.counters.skipped;
    st.status.errors = r.counters.errors + static_cast<std::uint64_t>(decoded.bad_values);
    if (r.outcome != poll_outcome::no_answer) line.rtt_ms = r.rtt.count();

    // Every state but online says why: a reason is never empty.
    const std::string why = r.error.empty() ? std::string("no answer") : r.error;
    if (r.offline) {
        set_state(
            bus, r.device, model::device_state::offline, why,
            fmt::format("{} ({} polls); retry in {}", why, r.misses, pretty_duration(r.retry_in)));
    } else if (r.outcome == poll_outcome::no_answer) {
        // Not offline yet (fewer than 3 polls without an answer): the state stays, and so does
        // an online one's empty last_error.
        if (st.status.state != model::device_state::online) st.status.last_error = why;
    } else if (r.all_refused) {
        // It answers, with an exception to everything: `error`, asked again every interval.
        set_state(bus, r.device, model::device_state::error, why,
                  fmt::format("{}; asking again every {}", why, pretty_duration(dev.interval)));
    } else if (decoded.values.empty()) {
        set_state(bus, r.device, model::device_state::error,
                  r.error.empty() ? std::string("no valid value") : r.error);
    } else {
        set_state(bus, r.device, model::device_state::online, {});
    }
    if (decoded.values.empty()) return;
    // The one normalize step of every source: here the profile already gave vocabulary names
    // and units, so it drops only numbers no meter can mean (counted as errors).
    raw_reading raw{dev.name, std::nullopt, {}};
    raw.values.reserve(decoded.values.size());
    for (const auto& [name, value] : decoded.values)
        raw.values.push_back({name, value, {}});
    auto n = normalize(std::move(raw), r.ts_ms);
    if (n.drops.total() > 0) {
        st.status.errors += n.drops.total();
        if (const long held = drop_log_.allow(dev.name); held >= 0)
            log::warn("rtu[{}]: {}: value left out: {}{}", buses_[bus].name, dev.name, n.first_drop,
                      log::suppressed_note(held));
    }
    if (n.reading.values.empty()) return;
    if (cb_.on_reading) cb_.on_reading(std::move(n.reading));
}

} // namespace mb::drivers::rtu

namespace mb::drivers::rtu {

void rtu_source::note_ratios(std::size_t bus, std::size_t index, const meter_ratios& before) {
    const auto& now = states_[bus][index].ratios;
    if (now.pt == before.pt && now.ct == before.ct) return;
    const auto& dev = buses_[bus].devices[index];
    // A ratio read again and found different: the installer reconfigured the meter. This
    // poll already decoded with the new one; the meta says which ratios are in use.
    const auto changed = [&](std::string_view which, const std::optional<double>& was,
                             const std::optional<double>& is) {
        if (was && is && *was != *is)
            log::warn("rtu[{}] {}(unit {}): the meter's {} changed from {} to {}; its values use "
                      "the new one",
                      buses_[bus].name, dev.name, dev.unit, which, *was, *is);
    };
    changed("pt_ratio", before.pt, now.pt);
    changed("ct_ratio", before.ct, now.ct);
    if (cb_.on_devices_changed) cb_.on_devices_changed({info_of(bus, index)});
}

} // namespace mb::drivers::rtu
