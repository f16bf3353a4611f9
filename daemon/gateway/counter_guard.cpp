#include "daemon/gateway/counter_guard.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <limits>
#include <vector>

namespace mb::daemon {
namespace {

// kWh (or kvarh) that `watts` meter over `ms`.
double energy_in(double watts, std::int64_t ms) {
    return watts * static_cast<double>(std::max<std::int64_t>(ms, 0)) / 3.6e9;
}

void note(counter_guard::outcome& out, std::string_view device, model::measurement m,
          std::string_view what) {
    if (out.note.empty()) out.note = fmt::format("{}: {} {}", device, model::name_of(m), what);
}

} // namespace

void counter_guard::count_glitch(device_counters& d, outcome& out) {
    ++out.glitches;
    ++d.glitches;
}

bool is_energy_counter(model::measurement m) {
    static const std::vector<bool> table = [] {
        std::vector<bool> t(model::measurement_count());
        for (std::size_t i = 0; i < t.size(); ++i)
            t[i] = model::name_of(static_cast<model::measurement>(i)).starts_with("energy_");
        return t;
    }();
    return table[static_cast<std::size_t>(m)];
}

counter_guard::extra& counter_guard::device_counters::extra_of(counter& c) {
    if (c.has_extra)
        for (auto& e : extras)
            if (e.id == c.id) return e;
    c.has_extra = true;
    return extras.emplace_back(extra{c.id});
}

void counter_guard::device_counters::drop_extra(counter& c) {
    if (!c.has_extra) return;
    std::erase_if(extras, [&](const extra& e) { return e.id == c.id; });
    c.has_extra = false;
}

std::uint32_t counter_guard::device_counters::seconds_at(std::int64_t ts_ms) const {
    const std::int64_t s = (ts_ms - base_ms) / 1000;
    return static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(s, 0, std::numeric_limits<std::uint32_t>::max()));
}

// Rounded down to the second: rise_ok allows the second lost.
std::int64_t counter_guard::device_counters::ms_of(const counter& c) const {
    return base_ms + static_cast<std::int64_t>(c.at_s) * 1000;
}

bool counter_guard::rise_ok(double from, std::int64_t from_ts, double to, std::int64_t to_ts,
                            const model::counter_limits* limits) {
    if (to < from) return false;
    if (limits == nullptr || !limits->max_power_w) return true;
    // + 1 s: a counter's time is kept in whole seconds.
    return to - from <=
           rise_margin * energy_in(*limits->max_power_w, to_ts - from_ts + 1000) + rise_slack_kwh;
}

counter_guard::outcome counter_guard::check(model::reading& r,
                                            const model::counter_limits* limits) {
    outcome out;
    device_counters* d = nullptr;
    auto kept = r.values.begin();
    for (auto& v : r.values) {
        if (is_energy_counter(v.id)) {
            if (d == nullptr) {
                auto it = devices_.find(r.device);
                if (it == devices_.end()) {
                    it = devices_.emplace(r.device, device_counters{}).first;
                    it->second.base_ms = r.ts_ms;
                    // A meter's counters come all in its first reading, as a rule: one
                    // allocation of the right size, not a doubling vector's slack.
                    it->second.counters.reserve(static_cast<std::size_t>(std::ranges::count_if(
                        r.values, [](const auto& x) { return is_energy_counter(x.id); })));
                }
                d = &it->second;
            }
            auto& cs = d->counters;
            auto c =
                std::lower_bound(cs.begin(), cs.end(), v.id,
                                 [](const counter& a, model::measurement m) { return a.id < m; });
            if (c == cs.end() || c->id != v.id) {
                cs.insert(c, counter{v.value, d->seconds_at(r.ts_ms), v.id, false}); // taken
            } else if (step(*d, *c, v.value, r.ts_ms, limits, r.device, out) == verdict::hold) {
                continue;
            }
        }
        *kept++ = v;
    }
    r.values.erase(kept, r.values.end());
    return out;
}

counter_guard::verdict counter_guard::step(device_counters& d, counter& c, double& value,
                                           std::int64_t ts_ms, const model::counter_limits* limits,
                                           std::string_view device, outcome& out) {
    const double raw = value;
    double offset = 0;
    if (c.has_extra) offset = d.extra_of(c).offset;
    const auto publish = [&](double v) {
        if (c.has_extra) {
            auto& e = d.extra_of(c);
            if (e.held_polls > 0) { // what was held is not confirmed: it was a glitch
                count_glitch(d, out);
                note(out, device, c.id,
                     fmt::format("{} dropped as a glitch (held {} time{}, back to {})", e.held,
                                 e.held_polls, e.held_polls == 1 ? "" : "s", v));
                e.held_polls = 0;
            }
            if (e.offset == 0) d.drop_extra(c);
        }
        c.last = v;
        c.at_s = d.seconds_at(ts_ms);
        value = v;
        return verdict::publish;
    };

    const std::int64_t last_ms = d.ms_of(c);
    if (rise_ok(c.last, last_ms, raw + offset, ts_ms, limits)) return publish(raw + offset);

    if (const auto range = limits != nullptr ? limits->wrap_of(c.id) : std::nullopt;
        range && raw + offset < c.last) {
        const double across = raw + offset + *range;
        const bool small_enough =
            limits->max_power_w.has_value() || across - c.last <= *range * wrap_share;
        if (small_enough && rise_ok(c.last, last_ms, across, ts_ms, limits)) {
            d.extra_of(c).offset += *range;
            ++out.wraps;
            note(out, device, c.id, fmt::format("wrapped at its register's maximum ({})", *range));
            return publish(across);
        }
    }

    // Suspect: held back until it is gone again or has held long enough.
    auto& e = d.extra_of(c);
    const bool agrees = e.held_polls > 0 && rise_ok(e.held, e.held_ts_ms, raw, ts_ms, limits);
    if (!agrees) {
        if (e.held_polls > 0) count_glitch(d, out); // a second suspect unlike the first
        e.held_polls = 0;
    }
    e.held = raw;
    e.held_ts_ms = ts_ms;
    if (++e.held_polls < confirm_polls) {
        ++out.held;
        note(out, device, c.id,
             fmt::format("{} held back (last published {}; {} of {} readings to confirm)", raw,
                         c.last, e.held_polls, confirm_polls));
        return verdict::hold;
    }
    out.resets.push_back({std::string(device), ts_ms, c.id, c.last, raw});
    note(out, device, c.id,
         fmt::format("reset from {} to {}{}", c.last, raw,
                     raw > c.last ? " (a jump up: if the meter really meters this much, raise "
                                    "its max_power)"
                                  : ""));
    e.offset = 0;
    e.held_polls = 0;
    return publish(raw);
}

void counter_guard::forget(std::string_view device) {
    if (const auto it = devices_.find(device); it != devices_.end()) devices_.erase(it);
}

void counter_guard::keep_only(const std::function<bool(std::string_view)>& known) {
    std::erase_if(devices_, [&](const auto& d) { return !known(d.first); });
}

std::uint64_t counter_guard::glitches(std::string_view device) const {
    const auto it = devices_.find(device);
    return it == devices_.end() ? 0 : it->second.glitches;
}

} // namespace mb::daemon
