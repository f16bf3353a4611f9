#pragma once
// The meters one native source knows, by serial and by device name: those [[native.meter]]
// names and those relayed as sn-<serial> while running. Only what differs from meter to meter
// is kept here (what every meter of the source shares, its meta's profile, units and bus, is
// the source's), because a source may relay tens of thousands of them. A meter stays where it
// is until it is erased (node-based), so the name index can point into it. Loop thread only.
#include "model/device_status.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mb::drivers::native {

struct native_meter {
    model::device_status status; // status.device is its name
    std::string iccid;           // once the meter said (the meta's "iccid")
    // Meter − gateway, whole hours in seconds, while its readings carry the gateway's time.
    std::optional<std::int64_t> clock_offset_s;
    std::optional<std::int64_t> last_meter_ts; // duplicates carry the same one again
    std::chrono::steady_clock::time_point last_seen{};
    std::chrono::milliseconds interval{0}; // smoothed time between messages; 0: not yet
    bool relayed = false; // sn-<serial>, added while running: max_meters and forget_after apply
    bool seen = false;
    bool changed = false; // its meta changed during this message (told once after it)
};

class meter_table {
public:
    using entry = std::pair<const std::string, native_meter>; // serial -> meter

    // Not copied nor moved: the name index points into the table's own nodes.
    meter_table() = default;
    ~meter_table() = default;
    meter_table(const meter_table&) = delete;
    meter_table& operator=(const meter_table&) = delete;
    meter_table(meter_table&&) = delete;
    meter_table& operator=(meter_table&&) = delete;

    // A new meter, offline until its first message. Neither its serial nor its name may be
    // in the table yet.
    entry& add(const std::string& serial, std::string device, bool relayed);
    // A meter another table had (a source's predecessor on a reload), with its state.
    entry& adopt(const std::string& serial, native_meter&& m);
    [[nodiscard]] entry* by_serial(const std::string& serial);
    [[nodiscard]] entry* by_name(std::string_view device);
    [[nodiscard]] const entry* by_name(std::string_view device) const;
    void erase(entry& e);
    // Erases every relayed meter for which `gone` is true; their device names, in no order.
    std::vector<std::string> erase_relayed_if(const std::function<bool(const native_meter&)>& gone);
    // Takes every relayed meter out (for the next source), leaving the named ones.
    std::vector<std::pair<std::string, native_meter>> take_relayed();

    [[nodiscard]] std::size_t size() const { return meters_.size(); }
    [[nodiscard]] std::size_t relayed() const { return relayed_; }
    [[nodiscard]] auto begin() { return meters_.begin(); }
    [[nodiscard]] auto end() { return meters_.end(); }
    [[nodiscard]] auto begin() const { return meters_.begin(); }
    [[nodiscard]] auto end() const { return meters_.end(); }

private:
    entry& index(entry& e);

    std::unordered_map<std::string, native_meter> meters_; // by serial
    // Views of each meter's status.device: the name is stored once.
    std::unordered_map<std::string_view, entry*> by_name_;
    std::size_t relayed_ = 0;
};

} // namespace mb::drivers::native
