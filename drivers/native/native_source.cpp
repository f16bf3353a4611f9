#include "drivers/native/native_source.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace mb::drivers::native {
namespace {

constexpr std::chrono::milliseconds sweep_period{1000};
constexpr std::size_t max_name = 64;

// "3 days", "5 hours", "12 minutes": how far a meter's clock is off, stable between readings
// (a status is republished only when its text changes).
std::string offset_text(std::int64_t offset_ms) {
    const std::int64_t a = offset_ms < 0 ? -offset_ms : offset_ms;
    const std::string_view way = offset_ms < 0 ? "behind" : "ahead of";
    constexpr std::int64_t minute = 60'000;
    constexpr std::int64_t hour = 60 * minute;
    constexpr std::int64_t day = 24 * hour;
    if (a >= 2 * day) return fmt::format("{} days {}", a / day, way);
    if (a >= 2 * hour) return fmt::format("{} hours {}", a / hour, way);
    return fmt::format("{} minutes {}", a / minute, way);
}

} // namespace

std::string relay_name(std::string_view serial) {
    if (serial.empty()) return {};
    std::string name = "sn-";
    for (const char c : serial) {
        if (name.size() == max_name) break;
        const auto l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-';
        name.push_back(ok ? l : '-');
    }
    return name;
}

native_source::native_source(uv_loop_t& loop, native_settings settings, callbacks cb,
                             const common::clock& clock)
    : settings_(std::move(settings))
    , cb_(std::move(cb))
    , clock_(clock)
    , decoder_(make_decoder(settings_.format))
    , commands_refused_(std::make_shared<const std::string>(
          fmt::format("a native meter relayed from MQTT ({}): meterbridge cannot write to or "
                      "poll it yet, only relay what it publishes",
                      settings_.format.format)))
    , link_(loop, settings_.link, link_callbacks())
    , sweep_(make_uv_timer(loop, this)) {
    if (decoder_) {
        const auto units = decoder_->units();
        units_ = model::units_table(model::units_table::map(units.begin(), units.end()));
    }
    const auto limits_of = [](std::optional<double> max_power_w) {
        return max_power_w ? std::make_shared<const model::counter_limits>(
                                 model::counter_limits{max_power_w, {}})
                           : nullptr;
    };
    relayed_limits_ = limits_of(settings_.max_power_w);
    for (const auto& m : settings_.meters) {
        meters_.add(m.serial, m.name, false);
        if (m.max_power_w) named_limits_.emplace(m.serial, limits_of(m.max_power_w));
    }
}

native_source::~native_source() = default;

std::string native_source::name() const {
    return fmt::format("native[{}]", settings_.name);
}

model::device_info native_source::info_of(const entry& e) const {
    const auto& m = e.second;
    model::device_info info;
    info.name = m.status.device;
    info.profile = settings_.format.format;
    info.vendor = settings_.format.format.starts_with("acrel-") ? "Acrel" : "";
    info.source = "native";
    info.bus = settings_.name;
    info.units = units_;
    info.serial = e.first;
    info.iccid = m.iccid;
    info.clock_offset_s = m.clock_offset_s;
    info.commands_refused = commands_refused_;
    if (m.relayed) {
        info.counters = relayed_limits_;
    } else if (const auto it = named_limits_.find(e.first); it != named_limits_.end()) {
        info.counters = it->second;
    }
    return info;
}

bridge::mqtt_link::callbacks native_source::link_callbacks() {
    bridge::mqtt_link::callbacks cb;
    cb.on_connect = [this] { handle_connect(); };
    cb.on_message = [this](const bridge::incoming_message& m) { handle_message(m); };
    cb.on_subscribe = [this](const bridge::subscription_answer& a) { handle_subscribe(a); };
    cb.on_stopped = [this] {
        if (auto done = std::move(stop_done_)) done();
    };
    return cb;
}

void native_source::start() {
    if (!decoder_) {
        log::error("{}: format \"{}\" is not known to this build; nothing is relayed", name(),
                   settings_.format.format);
        return;
    }
    if (const auto ec = link_.start())
        log::error("{}: cannot start: {} (check [[native]] {})", name(), ec.message(),
                   settings_.name);
    const auto period = static_cast<std::uint64_t>(sweep_period.count());
    if (sweep_) uv_timer_start(sweep_.get(), &on_sweep, period, period);
}

void native_source::stop(std::function<void()> done) {
    if (stopping_) return;
    stopping_ = true;
    sweep_.reset();
    report_held_lines(std::chrono::steady_clock::time_point::max()); // whatever their period
    const auto& c = counters_;
    log::info("{}: stopping after {} messages: {} readings relayed, {} bad payloads, {} values "
              "left out, {} repeats, {} readings not relayed, {} of meterbridge's own",
              name(), c.messages, c.readings, c.bad_payloads, c.bad_values, c.duplicates, c.ignored,
              c.own);
    stop_done_ = std::move(done);
    link_.stop(); // on_stopped hands `done` back, possibly inside this call
}

void native_source::handle_connect() {
    // QoS 1, as the meters publish. A new session each time: readings published while the
    // link was down are the broker's to drop (meters send again within their interval).
    if (const auto ec = link_.subscribe(settings_.subscribe, 1))
        log::error("{}: cannot subscribe to \"{}\": {}", name(), settings_.subscribe, ec.message());
}

void native_source::handle_subscribe(const bridge::subscription_answer& a) {
    if (a.granted()) {
        // Subscribed only now: the broker sends what matches from here on.
        log::info("{}: subscribed to \"{}\" ({})", name(), a.filter, settings_.format.format);
        set_problem({});
        return;
    }
    // An ACL or a quota: nothing arrives, however healthy the connection looks.
    const auto why = fmt::format("the broker refused the subscription to \"{}\": {}", a.filter,
                                 link_.subscribe_reason(a.reason));
    log::error("{}: {}; nothing is relayed until it is granted (asked again in {} ms; check the "
               "broker's ACL for {})",
               name(), why, a.retry_in.count(),
               settings_.link.username ? "user \"" + *settings_.link.username + "\""
                                       : std::string("anonymous clients"));
    set_problem(why);
}

void native_source::set_problem(std::string problem) {
    if (problem == problem_) return;
    problem_ = std::move(problem);
    if (cb_.on_problem) cb_.on_problem();
}

void native_source::handle_message(const bridge::incoming_message& m) {
    if (stopping_) return;
    ++counters_.messages;
    if (!settings_.own_topics.empty() && m.topic.starts_with(settings_.own_topics)) {
        // The subscription also matches what the uplink publishes on this broker: relaying it
        // would feed meterbridge its own output, in a loop.
        ++counters_.own;
        if (!own_warned_)
            log::warn("{}: \"{}\" also matches meterbridge's own topics ({}#) on this broker; "
                      "those messages are ignored",
                      name(), settings_.subscribe, settings_.own_topics);
        own_warned_ = true;
        return;
    }
    auto decoded = decoder_->decode(m.topic, m.payload);
    if (!decoded.error.empty()) {
        ++counters_.bad_payloads;
        if (const long held = problems_log_.allow("payloads not used", clock_.steady()); held >= 0)
            log::warn("{}: payload on {} not used: {} ({} of {} messages so far){}", name(),
                      m.topic, decoded.error, counters_.bad_payloads, counters_.messages,
                      log::suppressed_note(held));
    }
    for (auto& r : decoded.readings)
        handle_reading(r);
    if (changed_.empty()) return;
    std::vector<model::device_info> infos;
    infos.reserve(changed_.size());
    for (entry* e : changed_) {
        e->second.changed = false;
        infos.push_back(info_of(*e));
    }
    changed_.clear();
    if (cb_.on_devices_changed) cb_.on_devices_changed(std::move(infos));
}

void native_source::changed(entry& e) {
    if (e.second.changed) return;
    e.second.changed = true;
    changed_.push_back(&e);
}

std::string native_source::refuse_reason(const std::string& device, std::string& kind) const {
    if (device.empty()) {
        kind = "meters not relayed (no serial)";
        return "it has no serial";
    }
    if (meters_.by_name(device) != nullptr || (cb_.may_add_device && !cb_.may_add_device(device))) {
        kind = "meters not relayed (name taken)";
        return fmt::format("{} is already a device of this gateway; name the meter in "
                           "[[native.meter]] to relay it",
                           device);
    }
    if (meters_.relayed() >= settings_.max_relayed) {
        kind = "meters not relayed (max_meters)";
        return fmt::format("this source already relays {} meters, its max_meters (a meter "
                           "silent for forget_after frees its place)",
                           meters_.relayed());
    }
    return {};
}

native_source::entry* native_source::meter_for(const std::string& serial) {
    if (auto* e = meters_.by_serial(serial)) return e;
    if (!settings_.relay_unknown) {
        ++counters_.ignored; // unknown = "ignore": as asked
        return nullptr;
    }
    auto device = relay_name(serial);
    std::string kind;
    if (const auto why = refuse_reason(device, kind); !why.empty()) {
        ++counters_.ignored;
        // One line per reason and period for the whole source: a flood of made-up serials
        // must not write one line (or keep one rate-limiter slot) per serial.
        if (const long held = problems_log_.allow(kind, clock_.steady()); held >= 0)
            log::warn("{}: meter \"{}\" not relayed: {} ({} readings not relayed so far){}", name(),
                      serial, why, counters_.ignored, log::suppressed_note(held));
        return nullptr;
    }
    if (const long held = events_log_.allow("meters relayed", clock_.steady()); held >= 0)
        log::info("{}: relaying meter {} as {}{}", name(), serial, device,
                  log::suppressed_note(held));
    auto& e = meters_.add(serial, std::move(device), true);
    changed(e);
    return &e;
}

void native_source::handle_reading(decoded_reading& r) {
    entry* e = meter_for(r.serial);
    if (e == nullptr) return;
    auto& m = e->second;
    arrived(m);
    if (r.iccid && *r.iccid != m.iccid) {
        m.iccid = *r.iccid;
        changed(*e);
    }
    // A shadow gateway's word on its meter is its state; what values it still sends go on.
    const bool reported_offline = r.state == model::device_state::offline;
    if (reported_offline)
        set_state(m, model::device_state::offline, "its gateway reports the meter OFFLINE");
    if (r.values.empty()) return;
    if (r.ts_ms && r.ts_ms == m.last_meter_ts) {
        ++counters_.duplicates; // QoS 1 sends again what it was not sure about
        return;
    }
    if (r.ts_ms) m.last_meter_ts = r.ts_ms;
    raw_reading raw{m.status.device, r.ts_ms, {}};
    raw.values.reserve(r.values.size());
    for (const auto& v : r.values)
        raw.values.push_back({v.name, v.value, v.unit, v.id});
    auto n = normalize(std::move(raw), clock_.unix_ms());
    if (n.drops.total() > 0) {
        counters_.bad_values += n.drops.total();
        ++m.status.errors;
        if (const long held =
                problems_log_.allow("readings with a value left out", clock_.steady());
            held >= 0)
            log::warn("{}: {}: value left out: {} ({} values left out so far){}", name(),
                      m.status.device, n.first_drop, counters_.bad_values,
                      log::suppressed_note(held));
    }
    // Online means what it sends is used as sent: a last_error then only says why not (the
    // meter's clock), never what went wrong before (docs/topics.md).
    std::optional<std::string> error;
    std::optional<std::int64_t> offset_s;
    if (n.clock_offset_ms) {
        error = fmt::format("meter clock is {} the gateway; its readings carry the gateway's time",
                            offset_text(*n.clock_offset_ms));
        offset_s = std::llround(static_cast<double>(*n.clock_offset_ms) / 3.6e6) * 3600;
    }
    if (offset_s != m.clock_offset_s) {
        m.clock_offset_s = offset_s;
        changed(*e);
    }
    if (!reported_offline) set_state(m, model::device_state::online, std::move(error));
    if (n.reading.values.empty()) return;
    ++counters_.readings;
    if (cb_.on_reading) cb_.on_reading(std::move(n.reading));
}

void native_source::arrived(native_meter& m) {
    const auto now = clock_.steady();
    if (m.seen) {
        const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(now - m.last_seen);
        // Smoothed, so one late or doubled message does not move the offline deadline much.
        m.interval = m.interval.count() == 0 ? gap : (3 * m.interval + gap) / 4;
    }
    m.seen = true;
    m.last_seen = now;
    ++m.status.polls;
}

void native_source::set_state(native_meter& m, model::device_state state,
                              std::optional<std::string> error) {
    if (m.status.state == state && m.status.last_error == error) return;
    if (m.status.state != state) {
        m.status.ts_ms = clock_.unix_ms();
        const bool online = state == model::device_state::online;
        const long held =
            events_log_.allow(online ? "meters online" : "meters offline", clock_.steady());
        if (held >= 0 && online)
            log::info("{}: {} online{}", name(), m.status.device, log::suppressed_note(held));
        else if (held >= 0)
            log::warn("{}: {} {}: {}{}", name(), m.status.device,
                      state == model::device_state::offline ? "offline" : "error",
                      error.value_or(""), log::suppressed_note(held));
    }
    m.status.state = state;
    m.status.last_error = std::move(error);
    if (cb_.on_status) cb_.on_status(m.status);
}

void native_source::on_sweep(uv_timer_t* t) noexcept {
    try {
        static_cast<native_source*>(t->data)->sweep();
    } catch (...) { // never unwind into libuv
        log::callback_failed("native", __func__);
    }
}

void native_source::sweep() {
    const auto now = clock_.steady();
    for (auto& [serial, m] : meters_) {
        if (!m.seen || m.status.state == model::device_state::offline) continue;
        const auto silent_for =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - m.last_seen);
        const auto limit = std::max(settings_.offline_after, 3 * m.interval);
        if (silent_for < limit) continue;
        set_state(m, model::device_state::offline,
                  fmt::format(
                      "no message for {} s{}", silent_for.count() / 1000,
                      m.interval.count() > 0
                          ? fmt::format(" (it sent every {} s)", (m.interval.count() + 500) / 1000)
                          : std::string()));
    }
    forget_silent();
    report_held_lines(clock_.steady());
}

void native_source::forget_silent() {
    const auto now = clock_.steady();
    auto gone = meters_.erase_relayed_if([&](const native_meter& m) {
        return m.seen && now - m.last_seen >= settings_.forget_after;
    });
    if (gone.empty()) return;
    for (const auto& device : gone)
        if (const long held = events_log_.allow("meters forgotten", now); held >= 0)
            log::info(
                "{}: {} forgotten: no message for {} s (forget_after); its retained meta "
                "and status are cleared{}",
                name(), device,
                std::chrono::duration_cast<std::chrono::seconds>(settings_.forget_after).count(),
                log::suppressed_note(held));
    if (cb_.on_devices_removed) cb_.on_devices_removed(std::move(gone));
}

void native_source::report_held_lines(std::chrono::steady_clock::time_point now) {
    for (auto* limiter : {&events_log_, &problems_log_})
        for (const auto& [kind, held] : limiter->overdue(now))
            log::info("{}: {} more {} (not logged one by one)", name(), held, kind);
}

bool native_source::end_relay(std::string_view device) {
    auto* e = meters_.by_name(device);
    if (e == nullptr || !e->second.relayed) return false;
    log::info("{}: {} is now a configured device: meter {} is no longer relayed (its retained "
              "meta and status are cleared; its messages are refused from now on)",
              name(), device, e->first);
    meters_.erase(*e);
    return true;
}

void native_source::take_over(source& previous) {
    auto* old = dynamic_cast<native_source*>(&previous);
    if (old == nullptr) return;
    std::size_t kept = 0;
    std::size_t dropped = 0;
    for (auto& [serial, m] : old->meters_.take_relayed()) {
        // What the new settings say: a serial they name is no longer relayed under sn-…, and
        // "ignore" or a lower max_meters relays fewer.
        if (!settings_.relay_unknown || meters_.by_serial(serial) != nullptr ||
            meters_.by_name(m.status.device) != nullptr ||
            meters_.relayed() >= settings_.max_relayed) {
            ++dropped;
            continue;
        }
        m.changed = false;
        meters_.adopt(serial, std::move(m));
        ++kept;
    }
    if (kept + dropped > 0)
        log::info("{}: keeps the {} meter(s) the previous configuration relayed{}", name(), kept,
                  dropped > 0 ? fmt::format(" ({} not, as the new settings say)", dropped)
                              : std::string());
}

std::vector<model::device_info> native_source::devices() const {
    std::vector<model::device_info> out;
    out.reserve(meters_.size());
    for (const auto& e : meters_)
        out.push_back(info_of(e));
    return out;
}

const model::device_status* native_source::status(std::string_view device) const {
    const auto* e = meters_.by_name(device);
    return e == nullptr ? nullptr : &e->second.status;
}

std::string native_source::refusal(std::string_view device) const {
    return fmt::format("{}: {}", device, *commands_refused_);
}

void native_source::write(std::string_view device, const model::named_values& /*values*/,
                          done_fn done) {
    done({false, refusal(device), {}});
}

void native_source::read(std::string_view device, const std::vector<std::string>& /*names*/,
                         done_fn done) {
    done({false, refusal(device), {}});
}

} // namespace mb::drivers::native
