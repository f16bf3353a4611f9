#pragma once
// The Modbus-RTU source (drivers/source.hpp): one bus_worker (a thread) per bus, poll results
// decoded into readings on the loop, device health kept and reported on change, and commands
// (write, read now). Loop thread only.
//
// rtu_source.cpp: life cycle, devices, polls and health; rtu_commands.cpp: commands (checks,
// encoding, the pending commands and their outcomes).
#include "common/clock.hpp"
#include "common/log.hpp"
#include "drivers/modbus_rtu/bus_worker.hpp"
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "drivers/modbus_rtu/settings.hpp"
#include "drivers/normalize.hpp"
#include "drivers/source.hpp"
#include "model/device_info.hpp"
#include "model/device_status.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers::rtu {

class rtu_source final : public drivers::source {
public:
    // `clock` gives timestamps (readings, status) and the durations in log lines; it is also
    // read on the bus threads, so it must be thread-safe (common::system_clock is).
    rtu_source(uv_loop_t& loop, std::vector<bus_settings> buses, source::callbacks cb,
               const common::clock& clock = common::real_clock());
    // Safe at any time. While bus threads still run (no stop asked, or one not finished) it
    // asks them all to stop and joins them: this blocks for the requests in progress, at most
    // one request timeout (they stop in parallel). Commands not answered get "stopped";
    // results not yet delivered are dropped, and the unfinished stop's `done` is not called.
    // Never blocks after stop's `done` has run.
    ~rtu_source() override;
    rtu_source(const rtu_source&) = delete;
    rtu_source& operator=(const rtu_source&) = delete;

    // "rtu[rs485-1]", or "rtu[rs485-1,rs485-2]" for several buses.
    [[nodiscard]] std::string name() const override;
    // Starts one bus thread per bus. Once: a stopped source stays stopped (make a new one).
    void start() override;
    // Asks every bus thread to stop after its current request and returns at once. Each bus
    // thread, when it has ended, wakes the loop, which joins it (it has already returned),
    // delivers its last results and fails its unanswered commands with "stopped". When every
    // bus has ended, `done` runs on the loop: on a later iteration, or before stop returns
    // when no thread was running. `done` may destroy this source.
    void stop(std::function<void()> done) override;

    [[nodiscard]] std::vector<model::device_info> devices() const override;
    [[nodiscard]] const model::device_status* status(std::string_view device) const override;

    // Commands (docs/commands.md). Only writable values within min..max reach the meter; a
    // device that the polls found offline fails at once, naming the value and why.
    void write(std::string_view device, const model::named_values& values, done_fn done) override;
    void read(std::string_view device, const std::vector<std::string>& names,
              done_fn done) override;

private:
    enum class phase : std::uint8_t { idle, running, stopping, stopped };
    struct device_ref {
        std::size_t bus;
        std::size_t index;
    };
    struct device_state {
        model::device_status status;
        bool seen = false;                             // a status was ever published
        meter_ratios ratios;                           // the meter's PT/CT as last read
        std::chrono::steady_clock::time_point since{}; // of the current state
    };
    struct pending_command {
        std::size_t bus;
        done_fn done;
    };

    // rtu_source.cpp
    void on_result(std::size_t bus, poll_result&& r);
    void on_poll(std::size_t bus, poll_result& r);
    void on_port_state(std::size_t bus, const poll_result& r);
    void on_bus_ended(std::size_t bus);
    // Calls the stop's `done` once every bus has ended (last: it may destroy this source).
    void finish_stop_if_ended();
    // Publishes and logs a change of state (only changes); `detail` goes into the log line.
    void set_state(std::size_t bus, std::size_t index, model::device_state s,
                   const std::string& error, const std::string& detail = {});
    const device_settings* find(std::string_view device, device_ref& ref) const;
    [[nodiscard]] model::device_info info_of(std::size_t bus, std::size_t index) const;
    // After a decode: a PT/CT ratio first read or changed republishes the device's meta.
    void note_ratios(std::size_t bus, std::size_t index, const meter_ratios& before);

    // rtu_commands.cpp
    void on_read(std::size_t bus, poll_result& r);
    void on_write(std::size_t bus, const poll_result& r);
    // A command for a device the polls found offline fails at once, naming `what`.
    [[nodiscard]] std::string offline_error(const device_ref& ref, std::string_view what) const;
    // Why no command can go to `ref`'s device now (offline, not running, stopping); empty if
    // one can. `what` names the values for the offline error.
    [[nodiscard]] std::string refusal(const device_ref& ref, std::string_view what) const;
    // Queues `c` on its bus and keeps `done` until the answer (or "stopped").
    void submit(std::size_t bus, bus_command c, done_fn done);
    // Every command still waiting on `bus` (all buses: nullopt) gets {false, why}.
    void fail_pending(std::optional<std::size_t> bus, const std::string& why);

    uv_loop_t& loop_;
    std::vector<bus_settings> buses_;
    source::callbacks cb_;
    const common::clock& clock_;
    phase phase_ = phase::idle;
    std::map<std::string, device_ref, std::less<>> by_name_;
    std::vector<std::vector<device_state>> states_; // [bus][device]
    std::uint64_t next_command_ = 1;
    std::map<std::uint64_t, pending_command> pending_;
    std::vector<std::function<void()>> stop_done_; // each stop's `done`, until every bus ended
    log::rate_limiter drop_log_;                   // values the normalizer left out, per device
    std::vector<std::unique_ptr<bus_worker>> workers_;
};

} // namespace mb::drivers::rtu
