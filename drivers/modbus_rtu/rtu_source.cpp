#include "drivers/modbus_rtu/rtu_source.hpp"

#include "bridge/model/log.hpp"
#include "bridge/model/measurements.hpp"
#include "drivers/modbus_rtu/codec.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

namespace mb::drivers::rtu {
namespace {

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "a, b, c" of at most five names, then "and N more".
std::string name_list(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < 5; ++i)
        out += (i == 0 ? "" : ", ") + names[i];
    if (names.size() > 5) out += fmt::format(" and {} more", names.size() - 5);
    return out;
}

} // namespace

rtu_source::rtu_source(uv_loop_t& loop, std::vector<bus_settings> buses, callbacks cb)
    : loop_(loop)
    , buses_(std::move(buses))
    , cb_(std::move(cb)) {
    for (std::size_t b = 0; b < buses_.size(); ++b) {
        states_.emplace_back();
        for (std::size_t i = 0; i < buses_[b].devices.size(); ++i) {
            const auto& d = buses_[b].devices[i];
            by_name_.emplace(d.name, device_ref{b, i});
            device_state st;
            st.status.device = d.name;
            st.status.state = model::device_state::offline; // until it first answers
            st.status.ts_ms = unix_ms();
            states_[b].push_back(std::move(st));
        }
    }
}

rtu_source::~rtu_source() {
    stop();
}

void rtu_source::start() {
    if (!workers_.empty()) return;
    for (std::size_t b = 0; b < buses_.size(); ++b) {
        workers_.push_back(std::make_unique<bus_worker>(
            loop_, buses_[b], [this, b](poll_result&& r) { on_result(b, std::move(r)); }));
    }
}

void rtu_source::stop() {
    for (auto& w : workers_) // every bus at once: stopping costs one request timeout, not N
        w->request_stop();
    for (auto& w : workers_)
        w->stop();
    workers_.clear();
    // Commands that never got an answer still get their callback.
    auto writes = std::move(pending_writes_);
    auto reads = std::move(pending_reads_);
    for (auto& [id, done] : writes)
        if (done) done("stopped");
    for (auto& [id, done] : reads)
        if (done) done({}, "stopped");
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
    for (const auto& bus : buses_) {
        for (const auto& d : bus.devices) {
            model::device_info info;
            info.name = d.name;
            info.source = "rtu";
            info.bus = bus.name;
            info.unit = d.unit;
            info.interval_ms = d.interval.count();
            if (d.prof) {
                info.profile = d.prof->id;
                info.vendor = d.prof->vendor;
                info.model = d.prof->model;
                for (const auto& v : d.prof->values) {
                    const bool wanted = d.only.empty() ||
                                        std::any_of(d.only.begin(), d.only.end(),
                                                    [&](auto& g) { return glob_match(g, v.name); });
                    if (wanted)
                        info.units[v.name] = std::string(model::unit_of(v.name).value_or(""));
                    if (v.writable) info.writable[v.name] = model::writable_range{v.min, v.max};
                }
            }
            out.push_back(std::move(info));
        }
    }
    return out;
}

void rtu_source::set_state(std::size_t bus, std::size_t index, model::device_state s,
                           const std::string& error, const std::string& detail) {
    device_state& d = states_[bus][index];
    if (!error.empty()) d.status.last_error = error;
    if (d.seen && d.status.state == s) return;
    const auto now = std::chrono::steady_clock::now();
    const bool again = d.seen && d.status.state != model::device_state::online;
    const auto away = std::chrono::duration_cast<std::chrono::milliseconds>(now - d.since);
    d.seen = true;
    d.status.state = s;
    d.status.ts_ms = unix_ms();
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
    const auto& dev = buses_[bus].devices[r.device];
    if (r.what == poll_result::kind::poll) return on_poll(bus, r);
    if (r.what == poll_result::kind::read) return on_read(bus, r);
    auto it = pending_writes_.find(r.command_id);
    if (it == pending_writes_.end()) return;
    auto done = std::move(it->second);
    pending_writes_.erase(it);
    std::string error;
    if (r.failed > 0) {
        error = r.subject + ": " +
                command_failure(r.last, dev.name, dev.unit, buses_[bus].timeout, "write");
        if (!r.written.empty()) error += "; written before it: " + r.written;
    }
    if (done) done(error);
}

void rtu_source::on_port_state(std::size_t bus, const poll_result& r) {
    if (r.port_open) return; // devices come back online with their first answer
    // The line is gone: no device on it can answer, say so at once rather than 3 polls later.
    for (std::size_t i = 0; i < states_[bus].size(); ++i)
        set_state(bus, i, model::device_state::offline, r.error);
}

void rtu_source::on_read(std::size_t bus, poll_result& r) {
    auto it = pending_reads_.find(r.command_id);
    if (it == pending_reads_.end()) return;
    auto done = std::move(it->second);
    pending_reads_.erase(it);
    const auto& dev = buses_[bus].devices[r.device];
    named_values values;
    std::vector<std::string> missing;
    if (r.plan) {
        values = decode_results(*r.plan, r.requests, dev.pt_ratio, dev.ct_ratio,
                                &states_[bus][r.device].ratios)
                     .values;
        for (std::size_t i = 0; i < r.plan->values.size(); ++i) {
            const auto& name = r.plan->values[i].name;
            if (r.plan->publish[i] && std::none_of(values.begin(), values.end(),
                                                   [&](auto& v) { return v.first == name; }))
                missing.push_back(name);
        }
    }
    // Nothing read: fail, naming what and why. Some read: ok with those (absent = failed).
    std::string error;
    if (values.empty()) {
        const auto why =
            r.failed > 0 ? command_failure(r.last, dev.name, dev.unit, buses_[bus].timeout, "read")
                         : std::string("no valid value in the answer");
        error = (missing.empty() ? std::string("read") : name_list(missing)) + ": " + why;
    }
    if (done) done(std::move(values), error);
}

void rtu_source::on_poll(std::size_t bus, poll_result& r) {
    auto& st = states_[bus][r.device];
    const auto& dev = buses_[bus].devices[r.device];
    const auto& plan = workers_[bus]->decode_plan(r.device);
    auto decoded = decode_results(plan, r.requests, dev.pt_ratio, dev.ct_ratio, &st.ratios);
    st.status.polls = r.counters.polls;
    st.status.timeouts = r.counters.timeouts;
    st.status.skipped = r.counters.skipped;
    st.status.errors = r.counters.errors + static_cast<std::uint64_t>(decoded.bad_values);
    if (r.outcome != poll_outcome::no_answer) st.status.last_rtt_ms = r.rtt.count();

    if (r.offline) {
        set_state(bus, r.device, model::device_state::offline, r.error,
                  fmt::format("{} ({} polls); retry in {}", r.error, r.misses,
                              pretty_duration(r.retry_in)));
    } else if (r.outcome == poll_outcome::no_answer) {
        // not offline yet (fewer than 3 polls without an answer): keep the state
        if (!r.error.empty()) st.status.last_error = r.error;
    } else if (decoded.values.empty() || r.exceptions == static_cast<int>(r.requests.size())) {
        set_state(bus, r.device, model::device_state::error,
                  r.error.empty() ? std::string("no valid value") : r.error);
    } else {
        set_state(bus, r.device, model::device_state::online, {});
    }
    if (decoded.values.empty()) return;
    model::reading reading;
    reading.device = dev.name;
    reading.ts_ms = r.ts_ms;
    reading.values = std::move(decoded.values);
    if (cb_.on_reading) cb_.on_reading(std::move(reading));
}

std::string rtu_source::offline_error(const device_ref& ref, std::string_view what) const {
    const auto& st = states_[ref.bus][ref.index];
    const auto& dev = buses_[ref.bus].devices[ref.index];
    return fmt::format("{}: {} (unit {}) is offline ({}); not sent", what, dev.name, dev.unit,
                       st.status.last_error.value_or("no answer"));
}

void rtu_source::write(std::string_view device, const named_values& set, write_done done) {
    device_ref ref{};
    const auto* dev = find(device, ref);
    auto fail = [&](const std::string& e) {
        if (done) done(e);
    };
    if (dev == nullptr || !dev->prof) return fail(std::string(device) + ": no such device");
    bus_command c;
    c.what = bus_command::kind::write;
    c.device = ref.index;
    for (const auto& entry : set) {
        const auto& [name, value] = entry; // clang 14 cannot capture a structured binding
        auto it = std::find_if(dev->prof->values.begin(), dev->prof->values.end(),
                               [&](const auto& v) { return v.name == entry.first; });
        if (it == dev->prof->values.end()) return fail(name + ": unknown value");
        if (!it->writable) return fail(name + ": not writable");
        if ((it->min && value < *it->min) || (it->max && value > *it->max))
            return fail(name + ": out of range");
        auto enc = encode_value(value, *it, dev->prof->order);
        if (!enc.ok()) return fail(name + ": " + enc.error);
        c.writes.push_back({name, it->address, std::move(enc.regs)});
    }
    if (c.writes.empty()) return fail("nothing to set");
    if (states_[ref.bus][ref.index].status.state == model::device_state::offline &&
        states_[ref.bus][ref.index].seen)
        return fail(offline_error(ref, c.writes.front().name));
    if (ref.bus >= workers_.size()) return fail("not running");
    c.id = next_command_++;
    const auto id = c.id;
    if (!workers_[ref.bus]->submit(std::move(c))) return fail("bus busy: too many commands");
    pending_writes_.emplace(id, std::move(done));
}

void rtu_source::read(std::string_view device, const std::vector<std::string>& names,
                      read_done done) {
    device_ref ref{};
    const auto* dev = find(device, ref);
    auto fail = [&](const std::string& e) {
        if (done) done({}, e);
    };
    if (dev == nullptr || !dev->prof) return fail(std::string(device) + ": no such device");
    for (const auto& n : names) {
        auto it = std::find_if(dev->prof->values.begin(), dev->prof->values.end(),
                               [&](const auto& v) { return v.name == n; });
        if (it == dev->prof->values.end()) return fail(n + ": unknown value");
    }
    if (states_[ref.bus][ref.index].status.state == model::device_state::offline &&
        states_[ref.bus][ref.index].seen) {
        return fail(offline_error(ref, names.empty() ? std::string("read") : name_list(names)));
    }
    if (ref.bus >= workers_.size()) return fail("not running");
    plan_options opt;
    opt.max_gap = buses_[ref.bus].max_gap;
    opt.only = names.empty() ? dev->only : names;
    opt.pt_override = dev->pt_ratio.has_value();
    opt.ct_override = dev->ct_ratio.has_value();
    bus_command c;
    c.what = bus_command::kind::read;
    c.device = ref.index;
    c.plan = std::make_shared<const read_plan>(plan_reads(*dev->prof, opt));
    c.id = next_command_++;
    const auto id = c.id;
    if (!workers_[ref.bus]->submit(std::move(c))) return fail("bus busy: too many commands");
    pending_reads_.emplace(id, std::move(done));
}

} // namespace mb::drivers::rtu
