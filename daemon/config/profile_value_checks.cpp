#include "daemon/config/profile_value_checks.hpp"

#include "model/measurements.hpp"

#include <fmt/format.h>
#include <string>
#include <string_view>

namespace mb::config {
namespace rtu = drivers::rtu;
namespace {

std::string_view ratio_word(rtu::ratio_kind k) {
    switch (k) {
    case rtu::ratio_kind::pt:
        return "pt";
    case rtu::ratio_kind::ct:
        return "ct";
    case rtu::ratio_kind::ptct:
        return "ptct";
    default:
        return "none";
    }
}

// The ratio a quantity of this unit is multiplied by on a secondary meter: voltages by the
// PT, currents by the CT, powers and energies by both; anything else by neither.
rtu::ratio_kind ratio_for_unit(std::string_view unit) {
    if (unit == "V") return rtu::ratio_kind::pt;
    if (unit == "A") return rtu::ratio_kind::ct;
    for (std::string_view u : {"W", "var", "VA", "kWh", "kvarh"})
        if (unit == u) return rtu::ratio_kind::ptct;
    return rtu::ratio_kind::none;
}

// 0/1 states read from one bit or one register: di_*, do_*, alarm_state.
bool is_state(std::string_view name) {
    return name.starts_with("di_") || name.starts_with("do_") || name == "alarm_state";
}

// The node of key k, or the value's name when k is absent (a default that is wrong).
const toml::node& at(toml_reader& r, const char* k) {
    const auto* n = r.table().get(k);
    return n != nullptr ? *n : *r.table().get("name");
}

void check_ratio(toml_reader& r, const rtu::value_def& v, const rtu::profile& p,
                 std::string_view unit) {
    if (v.ratio == rtu::ratio_kind::none) return;
    const auto& node = at(r, "ratio");
    if (!p.secondary) {
        r.errors().add(node, r.key("ratio"),
                       fmt::format(R"(ratio = "{}" in a ratios = "primary" profile: a primary )"
                                   R"(meter's values are already on the primary side (remove )"
                                   R"(ratio, or set ratios = "secondary" at the top))",
                                   ratio_word(v.ratio)));
        return;
    }
    const auto wanted = ratio_for_unit(unit);
    if (wanted == v.ratio) return;
    if (wanted == rtu::ratio_kind::none)
        r.errors().add(
            node, r.key("ratio"),
            fmt::format("{} ({}) is not changed by PT/CT ratios (remove ratio)", v.name, unit));
    else
        r.errors().add(node, r.key("ratio"),
                       fmt::format(R"(ratio = "{}" cannot scale {} ({}): it takes ratio = "{}" )"
                                   R"((voltages "pt", currents "ct", powers and energies "ptct"))",
                                   ratio_word(v.ratio), v.name, unit, ratio_word(wanted)));
}

// wraps = true: an energy counter in an unsigned integer register, not ratio-scaled (the wrap
// is the register's, before any ratio).
void check_wraps(toml_reader& r, const rtu::value_def& v) {
    if (!v.wraps) return;
    const auto& node = at(r, "wraps");
    const bool unsigned_int = v.type == rtu::value_type::u16 || v.type == rtu::value_type::u32 ||
                              v.type == rtu::value_type::u64;
    if (!v.name.starts_with("energy_"))
        r.errors().add(node, r.key("wraps"),
                       fmt::format("wraps = true on {}: only energy counters (energy_*) wrap "
                                   "(remove wraps)",
                                   v.name));
    else if (!unsigned_int)
        r.errors().add(node, r.key("wraps"),
                       fmt::format(R"(wraps = true on type = "{}": only an unsigned integer )"
                                   R"(register (u16, u32, u64) wraps at its maximum)",
                                   rtu::to_string(v.type)));
    else if (v.ratio != rtu::ratio_kind::none)
        r.errors().add(node, r.key("wraps"),
                       "wraps = true with a ratio: the register wraps before the ratio scales "
                       "it, which the gateway cannot follow (remove one)");
}

} // namespace

void check_value_meaning(toml_reader& r, const rtu::value_def& v, const rtu::profile& p) {
    const auto unit = model::unit_of(v.name);
    if (!unit) return; // not a measurement name: reported already
    check_ratio(r, v, p, *unit);
    const bool state = is_state(v.name);
    if (v.type == rtu::value_type::bits && !state)
        r.errors().add(at(r, "type"), r.key("type"),
                       fmt::format(R"(type = "bits" reads one bit, but {} is a quantity in {} )"
                                   R"((bits are for 0/1 states: di_*, do_*, alarm_state))",
                                   v.name, *unit));
    if (state && v.scale != 1.0)
        r.errors().add(at(r, "scale"), r.key("scale"),
                       fmt::format("scale = {} on {}, a 0/1 state: a state is not scaled "
                                   "(remove scale)",
                                   v.scale, v.name));
    if (v.writable && v.function == rtu::function_code::input)
        r.errors().add(at(r, "writable"), r.key("writable"),
                       "writable = true on an input register (FC04): input registers cannot "
                       "be written (set function = \"holding\" on this value, or remove "
                       "writable)");
    check_wraps(r, v);
}

} // namespace mb::config
