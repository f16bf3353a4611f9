#pragma once
// What the uplink keeps per device for the retained topics (docs/topics.md): the device's info
// (its meta, and what commands may do to it), its latest status, what of both was last handed
// to the broker, and the devices whose retained meta and status must be cleared (removed from
// the configuration, forgotten relayed meters). It says what goes out next; the uplink paces
// that (a window of them unacknowledged), so that republishing tens of thousands of devices on
// a reconnect neither stalls the loop nor holds them all in memory at once.
//
// Order per device: a clear that is due goes before anything else of that device, so a name
// that passes from one device to another (a relayed meter's name given to a configured device
// by a reload) never has the new meta cleared by the old device's clear.
//
// Memory: one record per device holding its info and status; what was published is kept as
// hashes and counters, never as payloads. Loop thread only.
#include "model/device_info.hpp"
#include "model/device_status.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mb::bridge {

class retained_devices {
public:
    enum class kind : std::uint8_t { meta, status, clear };
    struct message {
        std::string device;
        kind what = kind::meta;
        std::string payload; // empty for a clear (both topics get an empty retained payload)
    };

    // The whole list (start, reload): devices not in it are cleared. True when the number of
    // devices changed.
    bool replace_all(std::vector<model::device_info> devices);
    // Adds these devices or replaces their info; the others stay. True when the number changed.
    bool update(std::vector<model::device_info> changed);
    // These devices are gone: their retained meta and status are cleared. True when the
    // number changed.
    bool remove(const std::vector<std::string>& names);
    // A previous uplink instance published these: the next replace_all clears those it lacks.
    void published_before(std::vector<std::string> names);
    // The latest status. `counters`: published when polls, errors or glitches moved too (a periodic
    // refresh), not only when the state or last_error did.
    void set_status(const model::device_status& s, bool counters);
    // A new connection: everything is due again (the clears still due stay first).
    void resend_all();
    // The next message due, taken off the list (nullopt: none).
    std::optional<message> next();

    [[nodiscard]] const model::device_info* info(std::string_view device) const;
    [[nodiscard]] std::size_t count() const { return known_; }
    [[nodiscard]] std::size_t clears_due() const { return to_clear_.size(); }
    [[nodiscard]] bool idle() const { return to_clear_.empty() && due_.empty(); }

private:
    // What was published of a status (a hash stands for last_error).
    struct status_mark {
        model::device_state state = model::device_state::offline;
        std::size_t error = 0;
        bool has_error = false;
        std::uint64_t polls = 0;
        std::uint64_t errors = 0;
        std::uint64_t line_events = 0; // RS485: timeouts + skipped polls
        std::uint64_t glitches = 0;
    };
    struct record {
        std::optional<model::device_info> info; // empty: a status came before the device
        std::size_t meta_hash = 0;              // of the meta payload as it is now
        std::optional<model::device_status> status;
        std::optional<status_mark> published; // of the status last handed over
        bool meta_due = false;
        bool status_due = false;
        bool queued = false; // in due_
    };

    void set_info(const std::string& name, model::device_info&& d);
    void enqueue(const std::string& name, record& r);
    [[nodiscard]] static status_mark mark_of(const model::device_status& s);

    std::map<std::string, record, std::less<>> records_;
    std::size_t known_ = 0;                     // records with info
    std::set<std::string> to_clear_;            // due clears, before anything else
    std::deque<std::string> due_;               // records with something due, in order
    std::set<std::string, std::less<>> before_; // published_before(), until replace_all
};

} // namespace mb::bridge
