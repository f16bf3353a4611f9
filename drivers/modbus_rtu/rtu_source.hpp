#pragma once
// The loop side of the Modbus-RTU driver: one bus_worker per bus, poll results decoded into
// readings, device health kept and reported on change, and commands (write, read now).
// Loop thread only.
#include "bridge/model/device_info.hpp"
#include "bridge/model/device_status.hpp"
#include "bridge/model/reading.hpp"
#include "drivers/modbus_rtu/bus_worker.hpp"
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "drivers/modbus_rtu/settings.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mb::drivers::rtu {

using named_values = std::vector<std::pair<std::string, double>>;

class rtu_source {
public:
    struct callbacks {
        std::function<void(model::reading&&)> on_reading;
        std::function<void(const model::device_status&)> on_status; // state changes only
    };
    // error empty: ok
    using write_done = std::function<void(const std::string& error)>;
    using read_done = std::function<void(named_values values, const std::string& error)>;

    rtu_source(uv_loop_t& loop, std::vector<bus_settings> buses, callbacks cb);
    ~rtu_source();
    rtu_source(const rtu_source&) = delete;
    rtu_source& operator=(const rtu_source&) = delete;

    void start(); // starts one bus thread per bus
    void stop();  // stops them; results still queued are delivered

    [[nodiscard]] const model::device_status* status(std::string_view device) const;
    [[nodiscard]] std::vector<model::device_info> devices() const;

    // Command entry points (design.md §5.4). Only writable values within min..max reach the
    // meter; a device that is offline fails at once with a timeout error.
    void write(std::string_view device, const named_values& set, write_done done);
    void read(std::string_view device, const std::vector<std::string>& names, read_done done);

private:
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

    void on_result(std::size_t bus, poll_result&& r);
    void on_poll(std::size_t bus, poll_result& r);
    void on_port_state(std::size_t bus, const poll_result& r);
    void on_read(std::size_t bus, poll_result& r);
    // Publishes and logs a change of state (only changes); `detail` goes into the log line.
    void set_state(std::size_t bus, std::size_t index, model::device_state s,
                   const std::string& error, const std::string& detail = {});
    // A command for a device the polls found offline fails at once, naming `what`.
    [[nodiscard]] std::string offline_error(const device_ref& ref, std::string_view what) const;
    const device_settings* find(std::string_view device, device_ref& ref) const;

    uv_loop_t& loop_;
    std::vector<bus_settings> buses_;
    callbacks cb_;
    std::map<std::string, device_ref, std::less<>> by_name_;
    std::vector<std::vector<device_state>> states_; // [bus][device]
    std::uint64_t next_command_ = 1;
    std::map<std::uint64_t, write_done> pending_writes_;
    std::map<std::uint64_t, read_done> pending_reads_;
    std::vector<std::unique_ptr<bus_worker>> workers_;
};

} // namespace mb::drivers::rtu
