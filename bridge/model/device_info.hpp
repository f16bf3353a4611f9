#pragma once
// What the uplink knows about one device: its meta payload (design.md §5.3) and, for
// commands (§5.4), which values may be written and within which range.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace mb::model {

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
    std::map<std::string, std::string> units;       // every value it can publish -> unit
    std::map<std::string, writable_range> writable; // values commands may set
    // Set for a device no command can reach (a native meter): every set and read is answered
    // with this reason instead of "not writable" or "unknown value".
    std::string commands_refused;
    // Native meters only (the meta adds them, design.md §5.3 additive): the meter's serial,
    // its SIM card when it said, and how far its clock is off when its readings carry the
    // gateway's time instead of its own (meter − gateway, whole hours, in seconds).
    std::string serial;
    std::string iccid;
    std::optional<std::int64_t> clock_offset_s;
};

} // namespace mb::model
