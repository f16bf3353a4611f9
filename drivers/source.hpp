#pragma once
// Where readings come from (docs/architecture.md#layers): the RTU buses (one source per
// [[bus]]) and the native relay (one per [[native]]) implement it. A source owns its devices: it
// tells their meta and status, hands over readings, and carries the commands addressed to them. The
// gateway holds any number of sources. Loop thread only.
#include "model/command_outcome.hpp"
#include "model/device_info.hpp"
#include "model/device_status.hpp"
#include "model/reading.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::drivers {

class source {
public:
    struct callbacks {
        std::function<void(model::reading&&)> on_reading;
        // A device's status changed (state, or counters on a refresh).
        std::function<void(const model::device_status&)> on_status;
        // Devices added while running (a relayed native meter appeared) or whose meta
        // changed (an ICCID learned): only those, so that thousands of meters appearing cost
        // the gateway and the uplink one step each, not one pass over every device each.
        std::function<void(std::vector<model::device_info> changed)> on_devices_changed;
        // Devices gone while running (relayed meters forgotten after their silence): their
        // retained meta and status are cleared.
        std::function<void(std::vector<std::string> gone)> on_devices_removed;
        // Asked before a source adds a device while running: false when the name is taken by
        // another source's device. Empty: every name is free.
        std::function<bool(std::string_view device)> may_add_device;
        // problem() changed (a subscription the broker refused, or granted again).
        std::function<void()> on_problem;
    };
    // Called once, on the loop, with the outcome of a command.
    using done_fn = std::function<void(model::command_outcome)>;

    source() = default;
    virtual ~source() = default;
    source(const source&) = delete;
    source& operator=(const source&) = delete;

    // "rtu[rs485-1]", "native[lan]": the name log lines and the gateway use.
    [[nodiscard]] virtual std::string name() const = 0;
    virtual void start() = 0;
    // Stops without the loop ever waiting on a line or a socket: `done` runs on the loop once
    // everything has stopped (possibly before stop returns). Readings still queued are handed
    // over before it. Commands not answered get "stopped".
    virtual void stop(std::function<void()> done) = 0;

    // A reload replaces `previous` (the source of the same name, whose settings changed) with
    // this one, before this one starts: what should outlive the restart moves over. A native
    // source takes over the meters `previous` relays, with their state, so that none of them
    // disappears (and has its retained meta cleared) only because a setting changed.
    virtual void take_over(source& previous) { (void)previous; }
    // A reload gave a configured device this name: a device this source added while running
    // under it (a relayed meter) goes, without a callback. True when there was one.
    virtual bool end_relay(std::string_view device) {
        (void)device;
        return false;
    }

    // What keeps the source as a whole from working, for the gateway status; empty when
    // nothing does. Per-device trouble is in the device's status instead.
    [[nodiscard]] virtual std::string problem() const { return {}; }

    [[nodiscard]] virtual std::vector<model::device_info> devices() const = 0;
    // nullptr for a device this source does not own.
    [[nodiscard]] virtual const model::device_status* status(std::string_view device) const = 0;

    // Commands (docs/commands.md). A source that cannot carry one says so in the outcome.
    virtual void write(std::string_view device, const model::named_values& values, done_fn done) {
        (void)device;
        (void)values;
        const done_fn reply = std::move(done);
        reply({false, "set: this source cannot write to its meters", {}});
    }
    virtual void read(std::string_view device, const std::vector<std::string>& names,
                      done_fn done) {
        (void)device;
        (void)names;
        const done_fn reply = std::move(done);
        reply({false, "read: this source cannot read on demand", {}});
    }
};

} // namespace mb::drivers
