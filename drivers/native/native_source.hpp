#pragma once
// A native source (docs/native.md): meters that publish MQTT themselves, relayed
// through the same normalize step, buffer and topic scheme as the RS485 meters. One MQTT
// subscription over the same link class as the uplink; each payload goes through the
// dialect's decoder, each decoded reading through drivers/normalize, then to the gateway.
//
// Devices: meters named in [[native.meter]] exist from the start; others are relayed as
// sn-<serial> (unknown = "relay") when their first message comes, unless that name is taken
// (refused with a log line, never merged) or the source relays max_meters already. A device is
// online while its messages come and offline after max(offline_after, 3 × the interval
// observed between its messages) of silence; a shadow gateway's per-meter OFFLINE is its state
// too. A relayed meter silent for forget_after is forgotten (the gateway clears its retained
// meta and status), and frees its place.
//
// Bad input costs only itself: a payload the decoder cannot use, or values the normalizer
// drops, are counted per source and logged rate-limited; nothing else stops. Log lines are
// limited per source and kind, never per serial: a flood of made-up serials gives a bounded
// number of lines, each kind's held-back lines told as a count. Loop thread only.
#include "bridge/link/mqtt_link.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/uv_handle.hpp"
#include "drivers/native/decoder.hpp"
#include "drivers/native/meter_table.hpp"
#include "drivers/native/native_settings.hpp"
#include "drivers/normalize.hpp"
#include "drivers/source.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
                  const common::clock& clock = common::real_clock());
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
    void take_over(source& previous) override;
    bool end_relay(std::string_view device) override;
    [[nodiscard]] std::string problem() const override { return problem_; }

private:
    using entry = meter_table::entry;

    static void on_sweep(uv_timer_t* t) noexcept;
    bridge::mqtt_link::callbacks link_callbacks();
    void handle_connect();
    void handle_subscribe(const bridge::subscription_answer& a);
    void set_problem(std::string problem);
    void handle_message(const bridge::incoming_message& m);
    void handle_reading(decoded_reading& r);
    // The meter a serial names: configured, already relayed, or relayed now. nullptr when it
    // is not relayed (logged and counted).
    entry* meter_for(const std::string& serial);
    // Why a new serial is not relayed; empty when it may be.
    [[nodiscard]] std::string refuse_reason(const std::string& device, std::string& kind) const;
    void changed(entry& e); // its meta changed: told to the gateway after this message
    void arrived(native_meter& m);
    void set_state(native_meter& m, model::device_state state, std::optional<std::string> error);
    void sweep();
    void forget_silent();
    // Lines of one kind ("meters online") beyond the budget are counted, not written; the
    // counts are told once their period is over at `now`.
    void report_held_lines(std::chrono::steady_clock::time_point now);
    [[nodiscard]] model::device_info info_of(const entry& e) const;
    // Why no command reaches a native meter: the result every set and read gets.
    [[nodiscard]] std::string refusal(std::string_view device) const;

    native_settings settings_;
    callbacks cb_;
    const common::clock& clock_;
    std::unique_ptr<decoder> decoder_;
    model::units_table units_; // every device's meta units (the dialect's), shared
    std::shared_ptr<const std::string> commands_refused_; // shared by every meter's meta
    // The counter guard's limits (max_power): the relayed meters', one for them all, and the
    // named meters' by serial. Null: none.
    std::shared_ptr<const model::counter_limits> relayed_limits_;
    std::map<std::string, std::shared_ptr<const model::counter_limits>, std::less<>> named_limits_;
    meter_table meters_;
    std::vector<entry*> changed_; // meters whose meta this message changed
    source_counters counters_;
    // Per kind of line, never per serial or device: state changes, new and forgotten meters
    // (a burst, then counts), and problems (one line a period, with counts).
    log::rate_limiter events_log_{std::chrono::seconds(10), 5};
    log::rate_limiter problems_log_{std::chrono::seconds(30)};
    bool own_warned_ = false;
    std::string problem_; // problem()
    bool stopping_ = false;
    std::function<void()> stop_done_;
    bridge::mqtt_link link_;
    uv_handle<uv_timer_t> sweep_;
};

} // namespace mb::drivers::native
