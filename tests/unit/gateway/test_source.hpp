#pragma once
// A source for the gateway's tests (drivers::source, no bus, no broker): its devices are
// named when it is made, it records the commands it carries and the relays it ends, hands
// over readings and relayed meters when the test says so, and finishes a stop at once or when
// the test says so. test_sources is the catalog that makes them from a configuration, as the
// source registry makes RTU sources: one per [[bus]], keyed by its port, with the [[device]]s
// on that bus.
#include "daemon/config/config.hpp"
#include "daemon/gateway/source_registry.hpp"
#include "drivers/source.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mbtest {

class test_sources;

class test_source final : public mb::drivers::source {
public:
    test_source(test_sources& registry, std::string name, const std::vector<std::string>& devices,
                callbacks cb);
    ~test_source() override;
    test_source(const test_source&) = delete;
    test_source& operator=(const test_source&) = delete;
    test_source(test_source&&) = delete;
    test_source& operator=(test_source&&) = delete;

    [[nodiscard]] std::string name() const override { return name_; }
    void start() override;
    void stop(std::function<void()> done) override;
    bool end_relay(std::string_view device) override;
    [[nodiscard]] std::vector<mb::model::device_info> devices() const override;
    [[nodiscard]] const mb::model::device_status* status(std::string_view device) const override;
    void write(std::string_view device, const mb::model::named_values& values,
               done_fn done) override;
    void read(std::string_view device, const std::vector<std::string>& names,
              done_fn done) override;

    // A meter this source relays from now on (as a native source learns one): false when the
    // gateway says the name is another source's.
    bool relay(const std::string& device);
    // Hands over a reading of `device` (one value).
    void hand_over(const std::string& device, double value, std::int64_t ts_ms) const;
    // A stop asked for while `hold_stop` was set ends now.
    void finish_stop();

    bool hold_stop = false;            // stop() waits for finish_stop()
    bool started = false;              // start() ran
    bool stop_asked = false;           // stop() ran
    std::vector<std::string> commands; // "write a1 do_1=1", "read a1 voltage_l1", in order
    std::vector<std::string> ended;    // end_relay that ended one

private:
    void add_device(const std::string& name, std::string_view kind);

    test_sources& registry_;
    std::string name_;
    callbacks cb_;
    std::vector<mb::model::device_info> devices_;
    std::map<std::string, mb::model::device_status, std::less<>> status_;
    std::function<void()> stop_done_;
};

// What a test source is made from (compared whole on a reload, as the real kinds' settings).
struct test_settings {
    std::string bus;
    std::vector<std::string> devices;
    bool operator==(const test_settings&) const = default;
};

// The catalog of the tests, and the sources it made that are still alive, by name.
class test_sources {
public:
    [[nodiscard]] mb::daemon::source_catalog catalog() {
        return [this](const mb::config::config& cfg) {
            std::vector<mb::daemon::source_spec> out;
            for (const auto& bus : cfg.buses) {
                test_settings s{bus.name, {}};
                for (const auto& d : cfg.devices)
                    if (d.bus == bus.name) s.devices.push_back(d.name);
                mb::daemon::source_spec spec;
                spec.kind = "test";
                spec.key = "test:" + bus.port;
                spec.settings = std::make_shared<mb::daemon::settings_of<test_settings>>(s);
                spec.make = [this, s](uv_loop_t& /*loop*/, mb::drivers::source::callbacks cb,
                                      const mb::common::clock& /*clock*/) {
                    return std::make_unique<test_source>(*this, fmt::format("test[{}]", s.bus),
                                                         s.devices, std::move(cb));
                };
                out.push_back(std::move(spec));
            }
            return out;
        };
    }
    // The live source of that name (the newest one when an old one still stops), or nullptr.
    [[nodiscard]] test_source* named(std::string_view name) const {
        const auto it = std::find_if(alive_.rbegin(), alive_.rend(),
                                     [&](const test_source* s) { return s->name() == name; });
        return it == alive_.rend() ? nullptr : *it;
    }
    // The same, required: a test asking for one that is gone fails there.
    [[nodiscard]] test_source& live(std::string_view name) const {
        auto* s = named(name);
        if (s == nullptr) throw std::logic_error(fmt::format("no live source {}", name));
        return *s;
    }
    [[nodiscard]] std::size_t alive() const { return alive_.size(); }
    // Every source made so far, by name, in order (those gone included).
    std::vector<std::string> made;

private:
    friend class test_source;
    std::vector<test_source*> alive_;
};

inline test_source::test_source(test_sources& registry, std::string name,
                                const std::vector<std::string>& devices, callbacks cb)
    : registry_(registry)
    , name_(std::move(name))
    , cb_(std::move(cb)) {
    for (const auto& d : devices)
        add_device(d, "rtu");
    registry_.alive_.push_back(this);
    registry_.made.push_back(name_);
}

inline test_source::~test_source() {
    std::erase(registry_.alive_, this);
}

inline void test_source::add_device(const std::string& name, std::string_view kind) {
    mb::model::device_info d;
    d.name = name;
    d.profile = "test-meter";
    d.vendor = "Test";
    d.model = "T1";
    d.source = std::string(kind);
    d.bus = name_;
    d.units = {{"do_1", "1"}, {"voltage_l1", "V"}};
    d.writable = {{"do_1", {0.0, 1.0}}};
    devices_.push_back(std::move(d));
    mb::model::device_status s;
    s.device = name;
    status_.emplace(name, std::move(s));
}

inline void test_source::start() {
    started = true;
}

inline void test_source::stop(std::function<void()> done) {
    stop_asked = true;
    stop_done_ = std::move(done);
    if (!hold_stop) finish_stop();
}

inline void test_source::finish_stop() {
    if (auto done = std::move(stop_done_)) done();
}

inline bool test_source::end_relay(std::string_view device) {
    const auto it = std::find_if(devices_.begin(), devices_.end(), [&](const auto& d) {
        return d.name == device && d.source == "native";
    });
    if (it == devices_.end()) return false;
    devices_.erase(it);
    status_.erase(status_.find(device));
    ended.emplace_back(device);
    return true;
}

inline std::vector<mb::model::device_info> test_source::devices() const {
    return devices_;
}

inline const mb::model::device_status* test_source::status(std::string_view device) const {
    const auto it = status_.find(device);
    return it == status_.end() ? nullptr : &it->second;
}

inline void test_source::write(std::string_view device, const mb::model::named_values& values,
                               done_fn done) {
    std::string what = fmt::format("write {}", device);
    for (const auto& [name, value] : values)
        what += fmt::format(" {}={}", name, value);
    commands.push_back(std::move(what));
    done({true, {}, {}});
}

inline void test_source::read(std::string_view device, const std::vector<std::string>& names,
                              done_fn done) {
    commands.push_back(fmt::format("read {} {}", device, fmt::join(names, ",")));
    mb::model::named_values values;
    for (const auto& n : names)
        values.emplace_back(n, 230.5);
    done({true, {}, std::move(values)});
}

inline bool test_source::relay(const std::string& device) {
    if (cb_.may_add_device && !cb_.may_add_device(device)) return false;
    add_device(device, "native");
    if (cb_.on_devices_changed) cb_.on_devices_changed({devices_.back()});
    return true;
}

inline void test_source::hand_over(const std::string& device, double value,
                                   std::int64_t ts_ms) const {
    mb::model::reading r;
    r.device = device;
    r.ts_ms = ts_ms;
    r.values.emplace_back("voltage_l1", value);
    cb_.on_reading(std::move(r));
}

// Buses by name, each with its devices' names.
using bus_list = std::vector<std::pair<std::string, std::vector<std::string>>>;

// A configuration of these buses (port /dev/tty-<bus>) and their devices.
inline mb::config::config config_of(const bus_list& buses) {
    mb::config::config cfg;
    for (const auto& [bus, devices] : buses) {
        mb::config::bus_config b;
        b.name = bus;
        b.port = "/dev/tty-" + bus;
        cfg.buses.push_back(b);
        for (const auto& d : devices) {
            mb::config::device_config dc;
            dc.name = d;
            dc.bus = bus;
            cfg.devices.push_back(dc);
        }
    }
    return cfg;
}

} // namespace mbtest
