#include "daemon/source_registry.hpp"

#include "daemon/component_settings.hpp"
#include "drivers/modbus_rtu/rtu_source.hpp"

namespace mb::daemon {
namespace {

std::vector<source_spec> rtu_sources(const config::config& cfg) {
    std::vector<source_spec> out;
    for (auto& bus : rtu_bus_settings(cfg)) {
        source_spec s;
        s.kind = "rtu";
        s.key = "rtu:" + bus.port;
        s.make = [bus = std::move(bus)](uv_loop_t& loop, drivers::source::callbacks cb,
                                        const model::clock& clock) {
            return std::make_unique<drivers::rtu::rtu_source>(
                loop, std::vector<drivers::rtu::bus_settings>{bus}, std::move(cb), clock);
        };
        out.push_back(std::move(s));
    }
    return out;
}

// [[native]] sources are validated but not run yet (their own issue): none to make.
std::vector<source_spec> native_sources(const config::config& /*cfg*/) {
    return {};
}

} // namespace

const std::vector<source_kind>& source_kinds() {
    static const std::vector<source_kind> kinds{{"rtu", &rtu_sources}, {"native", &native_sources}};
    return kinds;
}

std::vector<source_spec> sources_of(const config::config& cfg) {
    std::vector<source_spec> out;
    for (const auto& kind : source_kinds())
        for (auto& s : kind.specs(cfg))
            out.push_back(std::move(s));
    return out;
}

} // namespace mb::daemon
