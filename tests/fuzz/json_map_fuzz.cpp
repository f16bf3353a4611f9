// Fuzz target for the generic `json` decoder (docs/configuration.md) with a fixed field map: a
// serial from a dot path, ts (Unix s, ms or ISO 8601), values through objects and array indexes,
// one scaled. decode() answers without a crash, a throw or an unbounded tree, and the answer holds
// together (decoder_checks.hpp); values are reported in the vocabulary's unit (empty).
#include "tests/fuzz/decoder_checks.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

const mb::drivers::native::decoder& json_map() {
    static const auto d = [] {
        mb::drivers::native::format_settings s;
        s.format = "json";
        s.serial_path = "sn";
        s.ts_path = "time";
        s.values = {{"voltage_l1", {"ua", 1.0}},
                    {"active_power_total", {"p", 1000.0}},
                    {"current_l1", {"phases.0.i", 1.0}},
                    {"energy_import_total", {"e.import", 1.0}}};
        return mb::drivers::native::make_decoder(s);
    }();
    return *d;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto units = json_map().units();
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto r = json_map().decode("site/m17/meter", in);
    mb::fuzz::check_decoded(r, size, units);
    for (const auto& reading : r.readings)
        for (const auto& v : reading.values)
            if (!v.unit.empty()) std::abort();
    return 0;
}
