#pragma once
// A native source (design.md §1, §3 [[native]]): meters that publish MQTT themselves, relayed
// through the same normalize step, buffer and topic scheme as the RS485 meters. One MQTT
// subscription over the same link class as the uplink; each payload goes through the
// dialect's decoder, each decoded reading through drivers/normalize, then to the gateway.
//
// Devices: meters named in [[native.meter]] exist from the start; others are relayed as
// sn-<serial> (unknown = "relay") when their first message comes, unless that name is taken
// (refused with a log line, never merged). A device is online while its messages come and
// offline after max(offline_after, 3 × the interval observed between its messages) of
// silence; a shadow gateway's per-meter OFFLINE is its state too.
//
// Bad input costs only itself: a payload the decoder cannot use, or values the normalizer
// drops, are counted per source and logged rate-limited; nothing else stops. Loop thread only.
#include "bridge/model/clock.hpp"
#include "bridge/model/log.hpp"
#include "bridge/model/uv_handle.hpp"
#include "bridge/mqtt_link.hpp"
#include "drivers/native/decoder.hpp"
#include "drivers/native/native_settings.hpp"
#include "drivers/normalize.hpp"
#include "drivers/source.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mb::drivers::native {

// What a source has seen since it started: counted, and told in its log lines.
struct source_counters {
    std::uint64_t messages = 0;     // payloads received
    std::uint64_t bad_payloads = 0; // payloads (or parts) the decoder could not use
    std::uint64_t bad_values = 0;   // values the normalizer dropped
    std::uint64_t readings = 0;     // readings handed to the gateway
    std::uint64_t duplicates = 0;   // a meter's reading with the timestamp of its last one
    std::uint64_t ignored = 0;      // readings of meters not relayed (unknown = "ignore", …)
    std::uint64_t own = 0;          // messages on meterbridge's own topics, never consumed
};

// "sn-" + the serial made a valid device name ([a-z0-9][a-z0-9_-]{0,63}): lower case, any
// other character '-', cut to 64. Empty for an empty serial.
[[nodiscard]] std::string relay_name(std::string_view serial);

class native_source final : public source {
public:
    native_source(uv_loop_t& loop, native_settings settings, callbacks cb,
                  const model::clock& clock = model::real_clock());
    ~native_source() override;
    native_source(const native_source&) = delete;
    native_source& operator=(const native_source&) = delete;

    [[nodiscard]] std::string name() const override;
    void start() override;
    void stop(std::function<void()> done) override;
    [[nodiscard]] std::vector<model::device_info> devices() const override;
    [[nodiscard]] const model::device_status* status(std::string_view device) const override;
    void write(std::string_view device, const model::named_values& values, done_fn done) override;
    void read(std::string_view device, const std::vector<std::string>& names,
              done_fn done) override;

private:
    struct meter {
        model::device_info info;
        model::device_status status;
        std::optional<std::int64_t> last_meter_ts; // duplicates carry the same one again
        std::chrono::steady_clock::time_point last_seen{};
        std::chrono::milliseconds interval{0}; // smoothed time between messages; 0: not yet
        bool seen = false;
        bool changed = false; // in changed_ already
    };

    static void on_sweep(uv_timer_t* t) noexcept;
    bridge::mqtt_link::callbacks link_callbacks();
    void handle_connect();
    void handle_message(const bridge::incoming_message& m);
    void handle_reading(decoded_reading& r);
    // The meter a serial names: configured, already relayed, or relayed now. nullptr when it
    // is not relayed (logged and counted).
    meter* meter_for(const std::string& serial);
    void changed(meter& m); // its info changed: told to the gateway after this message
    meter& add_meter(const std::string& serial, std::string device);
    void arrived(meter& m);
    void set_state(meter& m, model::device_state state, std::optional<std::string> error);
    void sweep();
    // Why no command reaches a native meter: the result every set and read gets.
    [[nodiscard]] std::string refusal(std::string_view device) const;

    native_settings settings_;
    callbacks cb_;
    const model::clock& clock_;
    std::unique_ptr<decoder> decoder_;
    model::units_table units_; // every device's meta units (the dialect's), shared
    std::deque<meter> meters_; // stable addresses
    // Looked up by string_view (status() is asked for every status change) without a copy.
    struct name_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using index = std::unordered_map<std::string, meter*, name_hash, std::equal_to<>>;
    index by_serial_;
    index by_name_;
    std::size_t relayed_ = 0;
    std::vector<meter*> changed_; // meters whose info this message changed
    source_counters counters_;
    log::rate_limiter payload_log_;
    log::rate_limiter values_log_;
    log::rate_limiter refuse_log_;
    log::rate_limiter new_log_{std::chrono::seconds(10)};
    bool own_warned_ = false;
    bool stopping_ = false;
    std::function<void()> stop_done_;
    bridge::mqtt_link link_;
    uv_handle<uv_timer_t> sweep_;
};

} // namespace mb::drivers::native
