// rtu_source's commands (docs/commands.md): what is checked before anything reaches the line
// (device, value names, writable, range, encoding, the device's health, the source running),
// the commands waiting on a bus, and the outcome of each once its bus has run it.
#include "drivers/modbus_rtu/codec.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <optional>

namespace mb::drivers::rtu {
namespace {

// "a, b, c" of at most five names, then "and N more".
std::string name_list(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < 5; ++i)
        out += (i == 0 ? "" : ", ") + names[i];
    if (names.size() > 5) out += fmt::format(" and {} more", names.size() - 5);
    return out;
}

model::command_outcome failed(std::string error) {
    return {false, std::move(error), {}};
}

// Takes the answered command `id` out of `pending` (rtu_source::pending_) and returns its
// `done`; nullopt when it is no longer waiting (a stop failed it already).
template <class Pending>
std::optional<source::done_fn> take_pending(Pending& pending, std::uint64_t id) {
    auto node = pending.extract(id);
    if (node.empty()) return std::nullopt;
    return std::move(node.mapped().done);
}

} // namespace

std::string rtu_source::offline_error(const device_ref& ref, std::string_view what) const {
    const auto& st = states_[ref.bus][ref.index];
    const auto& dev = buses_[ref.bus].devices[ref.index];
    return fmt::format("{}: {} (unit {}) is offline ({}); not sent", what, dev.name, dev.unit,
                       st.status.last_error.value_or("no answer"));
}

std::string rtu_source::refusal(const device_ref& ref, std::string_view what) const {
    const auto& st = states_[ref.bus][ref.index];
    if (st.status.state == model::device_state::offline && st.seen) return offline_error(ref, what);
    if (phase_ == phase::idle) return "not running";
    if (phase_ != phase::running) return "stopped";
    return {};
}

void rtu_source::submit(std::size_t bus, bus_command c, done_fn done) {
    c.id = next_command_++;
    const auto id = c.id;
    if (workers_[bus]->ended()) return done(failed("not running"));
    if (!workers_[bus]->submit(std::move(c))) return done(failed("bus busy: too many commands"));
    pending_.emplace(id, pending_command{bus, std::move(done)});
}

void rtu_source::fail_pending(std::optional<std::size_t> bus, const std::string& why) {
    // Taken out first: a callback may submit another command.
    std::vector<done_fn> failing;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (bus && it->second.bus != *bus) {
            ++it;
            continue;
        }
        failing.push_back(std::move(it->second.done));
        it = pending_.erase(it);
    }
    for (auto& done : failing)
        if (done) done(failed(why));
}

void rtu_source::write(std::string_view device, const model::named_values& values, done_fn done) {
    if (!done) done = [](const model::command_outcome&) {};
    device_ref ref{};
    const auto* dev = find(device, ref);
    if (dev == nullptr || !dev->prof) return done(failed(std::string(device) + ": no such device"));
    bus_command c;
    c.what = bus_command::kind::write;
    c.device = ref.index;
    for (const auto& entry : values) {
        const auto& [name, value] = entry; // clang 14 cannot capture a structured binding
        auto it = std::find_if(dev->prof->values.begin(), dev->prof->values.end(),
                               [&](const auto& v) { return v.name == entry.first; });
        if (it == dev->prof->values.end()) return done(failed(name + ": unknown value"));
        if (!it->writable) return done(failed(name + ": not writable"));
        if ((it->min && value < *it->min) || (it->max && value > *it->max))
            return done(failed(name + ": out of range"));
        auto enc = encode_value(value, *it, dev->prof->order);
        if (!enc.ok()) return done(failed(name + ": " + enc.error));
        c.writes.push_back({name, it->address, std::move(enc.regs)});
    }
    if (c.writes.empty()) return done(failed("nothing to set"));
    if (auto why = refusal(ref, c.writes.front().name); !why.empty())
        return done(failed(std::move(why)));
    submit(ref.bus, std::move(c), std::move(done));
}

void rtu_source::read(std::string_view device, const std::vector<std::string>& names,
                      done_fn done) {
    if (!done) done = [](const model::command_outcome&) {};
    device_ref ref{};
    const auto* dev = find(device, ref);
    if (dev == nullptr || !dev->prof) return done(failed(std::string(device) + ": no such device"));
    for (const auto& n : names) {
        auto it = std::find_if(dev->prof->values.begin(), dev->prof->values.end(),
                               [&](const auto& v) { return v.name == n; });
        if (it == dev->prof->values.end()) return done(failed(n + ": unknown value"));
    }
    if (auto why = refusal(ref, names.empty() ? std::string("read") : name_list(names));
        !why.empty())
        return done(failed(std::move(why)));
    plan_options opt;
    opt.max_gap = buses_[ref.bus].max_gap;
    opt.only = names.empty() ? dev->only : names;
    opt.pt_override = dev->pt_ratio.has_value();
    opt.ct_override = dev->ct_ratio.has_value();
    bus_command c;
    c.what = bus_command::kind::read;
    c.device = ref.index;
    c.plan = std::make_shared<const read_plan>(plan_reads(*dev->prof, opt));
    submit(ref.bus, std::move(c), std::move(done));
}

void rtu_source::on_write(std::size_t bus, const poll_result& r) {
    auto done = take_pending(pending_, r.command_id);
    if (!done) return;
    const auto& dev = buses_[bus].devices[r.device];
    model::command_outcome out{true, {}, {}};
    if (r.failed > 0) {
        out.ok = false;
        out.error = r.subject + ": " +
                    command_failure(r.last, dev.name, dev.unit,
                                    timing_for(buses_[bus], dev).timeout, "write");
        if (!r.written.empty()) out.error += "; written before it: " + r.written;
    }
    if (*done) (*done)(std::move(out));
}

void rtu_source::on_read(std::size_t bus, poll_result& r) {
    auto done = take_pending(pending_, r.command_id);
    if (!done) return;
    const auto& dev = buses_[bus].devices[r.device];
    model::command_outcome out{true, {}, {}};
    std::vector<std::string> missing;
    if (r.plan) {
        for (const auto& [name, value] :
             decode_results(*r.plan, r.requests, dev.pt_ratio, dev.ct_ratio,
                            &states_[bus][r.device].ratios)
                 .values)
            out.values.emplace_back(name, value);
        for (std::size_t i = 0; i < r.plan->values.size(); ++i) {
            const auto& name = r.plan->values[i].name;
            if (r.plan->publish[i] && std::none_of(out.values.begin(), out.values.end(),
                                                   [&](auto& v) { return v.first == name; }))
                missing.push_back(name);
        }
    }
    // Nothing read: fail, naming what and why. Some read: ok with those (absent = failed).
    if (out.values.empty()) {
        const auto why = r.failed > 0
                             ? command_failure(r.last, dev.name, dev.unit,
                                               timing_for(buses_[bus], dev).timeout, "read")
                             : std::string("no valid value in the answer");
        out.ok = false;
        out.error = (missing.empty() ? std::string("read") : name_list(missing)) + ": " + why;
    }
    if (*done) (*done)(std::move(out));
}

} // namespace mb::drivers::rtu
