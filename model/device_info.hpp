#pragma once
// What the uplink knows about one device: its meta payload (docs/topics.md) and, for
// commands (docs/commands.md), which values may be written and within which range.
#include "model/counter_limits.hpp"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mb::model {

// The unit of every value a device can publish (name -> unit). Shared and immutable once
// built: the thousands of relayed meters of one dialect, and every copy of their info, hold
// one table rather than a map each.
class units_table {
public:
    using map = std::map<std::string, std::string, std::less<>>;

    units_table() = default;
    units_table(std::initializer_list<map::value_type> init)
        : map_(std::make_shared<const map>(init)) {}
    explicit units_table(map m)
        : map_(std::make_shared<const map>(std::move(m))) {}

    [[nodiscard]] bool contains(std::string_view name) const {
        return map_ && map_->find(name) != map_->end();
    }
    // The unit of `name`; empty when the device has no such value.
    [[nodiscard]] std::string_view at(std::string_view name) const {
        if (!map_) return {};
        const auto it = map_->find(name);
        return it == map_->end() ? std::string_view() : std::string_view(it->second);
    }
    [[nodiscard]] map::const_iterator begin() const { return all().begin(); }
    [[nodiscard]] map::const_iterator end() const { return all().end(); }
    [[nodiscard]] std::size_t size() const { return map_ ? map_->size() : 0; }

private:
    [[nodiscard]] const map& all() const {
        static const map empty;
        return map_ ? *map_ : empty;
    }
    std::shared_ptr<const map> map_;
};

struct writable_range {
    std::optional<double> min;
    std::optional<double> max;
};

struct device_info {
    std::string name;
    std::string profile; // profile id, or the native format
    std::string vendor;
    std::string model;
    std::string source; // "rtu" | "native"
    std::string bus;    // rtu: bus name; native: source name
    int unit = 0;       // rtu: Modbus unit id; 0 for native
    std::int64_t interval_ms = 0;
    units_table units;                              // every value it can publish -> unit
    std::map<std::string, writable_range> writable; // values commands may set
    // Set for a device no command can reach (a native meter): every set and read is answered
    // "<name>: <this reason>" instead of "not writable" or "unknown value". Shared: one text
    // for the thousands of meters of one native source.
    std::shared_ptr<const std::string> commands_refused;
    // Native meters only (the meta adds them, docs/topics.md additive): the meter's serial,
    // its SIM card when it said, and how far its clock is off when its readings carry the
    // gateway's time instead of its own (meter − gateway, whole hours, in seconds).
    std::string serial;
    std::string iccid;
    std::optional<std::int64_t> clock_offset_s;
    // RTU meters of "secondary" profiles (additive): the PT/CT ratios their values are
    // multiplied by, the config's override or the meter's own once read.
    std::optional<double> pt_ratio;
    std::optional<double> ct_ratio;
    // What the counter guard knows of its energy counters (max_power, wrapping registers);
    // null when nothing. Shared: one for the meters of a native source.
    std::shared_ptr<const counter_limits> counters;
};

} // namespace mb::model
