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
                             const model::clock& clock)
    : settings_(std::move(settings))
    , cb_(std::move(cb))
    , clock_(clock)
    , decoder_(make_decoder(settings_.format))
    , link_(loop, settings_.link, link_callbacks())
    , sweep_(make_uv_timer(loop, this)) {
    if (decoder_) {
        const auto units = decoder_->units();
        units_ = model::units_table(model::units_table::map(units.begin(), units.end()));
    }
    for (const auto& m : settings_.meters)
        add_meter(m.serial, m.name);
}

native_source::~native_source() = default;

std::string native_source::name() const {
    return fmt::format("native[{}]", settings_.name);
}

native_source::meter& native_source::add_meter(const std::string& serial, std::string device) {
    auto& m = meters_.emplace_back();
    m.info.name = std::move(device);
    m.info.profile = settings_.format.format;
    m.info.vendor = settings_.format.format.starts_with("acrel-") ? "Acrel" : "";
    m.info.source = "native";
    m.info.bus = settings_.name;
    m.info.units = units_;
    m.info.serial = serial;
    m.info.commands_refused = refusal(m.info.name);
    m.status.device = m.info.name;
    m.status.state = model::device_state::offline;
    by_serial_.emplace(serial, &m);
    by_name_.emplace(m.info.name, &m);
    return m;
}

bridge::mqtt_link::callbacks native_source::link_callbacks() {
    bridge::mqtt_link::callbacks cb;
    cb.on_connect = [this] { handle_connect(); };
    cb.on_message = [this](const bridge::incoming_message& m) { handle_message(m); };
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
    else
        log::info("{}: subscribed to \"{}\" ({})", name(), settings_.subscribe,
                  settings_.format.format);
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
        if (const long held = payload_log_.allow("payload"); held >= 0)
            log::warn("{}: payload on {} not used: {} ({} of {} messages so far){}", name(),
                      m.topic, decoded.error, counters_.bad_payloads, counters_.messages,
                      log::suppressed_note(held));
    }
    for (auto& r : decoded.readings)
        handle_reading(r);
    if (changed_.empty()) return;
    std::vector<model::device_info> infos;
    infos.reserve(changed_.size());
    for (meter* m : changed_) {
        m->changed = false;
        infos.push_back(m->info);
    }
    changed_.clear();
    if (cb_.on_devices_changed) cb_.on_devices_changed(std::move(infos));
}

void native_source::changed(meter& m) {
    if (m.changed) return;
    m.changed = true;
    changed_.push_back(&m);
}

native_source::meter* native_source::meter_for(const std::string& serial) {
    if (const auto it = by_serial_.find(serial); it != by_serial_.end()) return it->second;
    if (!settings_.relay_unknown) {
        ++counters_.ignored; // unknown = "ignore": as asked
        return nullptr;
    }
    auto device = relay_name(serial);
    std::string why;
    if (device.empty())
        why = "it has no serial";
    else if (by_name_.contains(device) || (cb_.may_add_device && !cb_.may_add_device(device)))
        why = fmt::format("{} is already a device of this gateway; name the meter in "
                          "[[native.meter]] to relay it",
                          device);
    else if (relayed_ >= settings_.max_relayed)
        why = fmt::format("this source already relays {} meters (the most it takes)", relayed_);
    if (!why.empty()) {
        ++counters_.ignored;
        if (const long held = refuse_log_.allow(serial); held >= 0)
            log::warn("{}: meter \"{}\" not relayed: {}{}", name(), serial, why,
                      log::suppressed_note(held));
        return nullptr;
    }
    ++relayed_;
    if (const long held = new_log_.allow("new"); held >= 0)
        log::info("{}: relaying meter {} as {}{}", name(), serial, device,
                  held > 0 ? fmt::format(" ({} more new meters since)", held) : std::string());
    auto& m = add_meter(serial, std::move(device));
    changed(m);
    return &m;
}

void native_source::handle_reading(decoded_reading& r) {
    meter* m = meter_for(r.serial);
    if (m == nullptr) return;
    arrived(*m);
    if (r.iccid && *r.iccid != m->info.iccid) {
        m->info.iccid = *r.iccid;
        changed(*m);
    }
    // A shadow gateway's word on its meter is its state; what values it still sends go on.
    const bool reported_offline = r.state == model::device_state::offline;
    if (reported_offline)
        set_state(*m, model::device_state::offline, "its gateway reports the meter OFFLINE");
    if (r.values.empty()) return;
    if (r.ts_ms && r.ts_ms == m->last_meter_ts) {
        ++counters_.duplicates; // QoS 1 sends again what it was not sure about
        return;
    }
    if (r.ts_ms) m->last_meter_ts = r.ts_ms;
    raw_reading raw{m->info.name, r.ts_ms, {}};
    raw.values.reserve(r.values.size());
    for (const auto& v : r.values)
        raw.values.push_back({v.name, v.value, v.unit});
    auto n = normalize(std::move(raw), clock_.unix_ms());
    if (n.drops.total() > 0) {
        counters_.bad_values += n.drops.total();
        ++m->status.errors;
        if (const long held = values_log_.allow(m->info.name); held >= 0)
            log::warn("{}: {}: value left out: {} ({} values left out so far){}", name(),
                      m->info.name, n.first_drop, counters_.bad_values, log::suppressed_note(held));
    }
    std::optional<std::string> error;
    std::optional<std::int64_t> offset_s;
    if (n.clock_offset_ms) {
        error = fmt::format("meter clock is {} the gateway; its readings carry the gateway's time",
                            offset_text(*n.clock_offset_ms));
        offset_s = std::llround(static_cast<double>(*n.clock_offset_ms) / 3.6e6) * 3600;
    }
    if (offset_s != m->info.clock_offset_s) {
        m->info.clock_offset_s = offset_s;
        changed(*m);
    }
    if (!reported_offline) set_state(*m, model::device_state::online, std::move(error));
    if (n.reading.values.empty()) return;
    ++counters_.readings;
    if (cb_.on_reading) cb_.on_reading(std::move(n.reading));
}

void native_source::arrived(meter& m) {
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

void native_source::set_state(meter& m, model::device_state state,
                              std::optional<std::string> error) {
    if (m.status.state == state && m.status.last_error == error) return;
    if (m.status.state != state) {
        m.status.ts_ms = clock_.unix_ms();
        if (state == model::device_state::online)
            log::info("{}: {} online", name(), m.info.name);
        else
            log::warn("{}: {} {}: {}", name(), m.info.name,
                      state == model::device_state::offline ? "offline" : "error",
                      error.value_or(""));
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
    for (auto& m : meters_) {
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
}

std::vector<model::device_info> native_source::devices() const {
    std::vector<model::device_info> out;
    out.reserve(meters_.size());
    for (const auto& m : meters_)
        out.push_back(m.info);
    return out;
}

const model::device_status* native_source::status(std::string_view device) const {
    const auto it = by_name_.find(device);
    return it == by_name_.end() ? nullptr : &it->second->status;
}

std::string native_source::refusal(std::string_view device) const {
    return fmt::format("{} is a native meter relayed from MQTT ({}): meterbridge cannot write to "
                       "or poll it yet, only relay what it publishes",
                       device, settings_.format.format);
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
