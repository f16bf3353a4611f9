#include "drivers/native/acrel_json_v2_decoder.hpp"

#include "bridge/model/measurements.hpp"
#include "drivers/native/json_input.hpp"

#include <array>
#include <cmath>
#include <new>

namespace mb::drivers::native {
namespace {

struct id_entry {
    std::string_view name; // empty: handled apart (serial, ICCID, DI)
    std::string_view unit; // as the meter sends it
};

constexpr std::size_t serial_id = 0;
constexpr std::size_t iccid_id = 33;
constexpr std::size_t di_id = 41;

// The header's table, indexed by id.
constexpr std::array<id_entry, 73> id_table = {{
    {"", ""}, // 0 serial
    {"voltage_l1", "V"},
    {"voltage_l2", "V"},
    {"voltage_l3", "V"},
    {"voltage_l1_l2", "V"},
    {"voltage_l2_l3", "V"},
    {"voltage_l3_l1", "V"},
    {"current_l1", "A"},
    {"current_l2", "A"},
    {"current_l3", "A"},
    {"active_power_l1", "kW"}, // 10
    {"active_power_l2", "kW"},
    {"active_power_l3", "kW"},
    {"active_power_total", "kW"},
    {"reactive_power_l1", "kvar"},
    {"reactive_power_l2", "kvar"},
    {"reactive_power_l3", "kvar"},
    {"reactive_power_total", "kvar"},
    {"apparent_power_l1", "kVA"},
    {"apparent_power_l2", "kVA"},
    {"apparent_power_l3", "kVA"}, // 20
    {"apparent_power_total", "kVA"},
    {"power_factor_l1", "1"},
    {"power_factor_l2", "1"},
    {"power_factor_l3", "1"},
    {"power_factor_total", "1"},
    {"frequency", "Hz"},
    {"signal_strength", "dBm"},
    {"energy_import_total", "kWh"},
    {"energy_export_total", "kWh"},
    {"energy_reactive_import_total", "kvarh"}, // 30
    {"energy_reactive_export_total", "kvarh"},
    {"demand_active_import", "kW"},
    {"", ""}, // 33 ICCID
    {"pt_ratio", "1"},
    {"ct_ratio", "1"},
    {"temperature_l1", "°C"},
    {"temperature_l2", "°C"},
    {"temperature_l3", "°C"},
    {"temperature_n", "°C"},
    {"residual_current", "A"}, // 40
    {"", ""},                  // 41 DI bitmask
    {"energy_import_l1", "kWh"},
    {"energy_export_l1", "kWh"},
    {"energy_reactive_import_l1", "kvarh"},
    {"energy_reactive_export_l1", "kvarh"},
    {"energy_import_l2", "kWh"},
    {"energy_export_l2", "kWh"},
    {"energy_reactive_import_l2", "kvarh"},
    {"energy_reactive_export_l2", "kvarh"},
    {"energy_import_l3", "kWh"}, // 50
    {"energy_export_l3", "kWh"},
    {"energy_reactive_import_l3", "kvarh"},
    {"energy_reactive_export_l3", "kvarh"},
    {"thd_voltage_l1", "%"},
    {"thd_voltage_l2", "%"},
    {"thd_voltage_l3", "%"},
    {"thd_current_l1", "%"},
    {"thd_current_l2", "%"},
    {"thd_current_l3", "%"},
    {"demand_active_export", "kW"}, // 60
    {"demand_reactive_import", "kvar"},
    {"demand_reactive_export", "kvar"},
    {"voltage_unbalance", "%"},
    {"current_unbalance", "%"},
    {"energy_import_tariff_sharp", "kWh"},
    {"energy_import_tariff_peak", "kWh"},
    {"energy_import_tariff_flat", "kWh"},
    {"energy_import_tariff_valley", "kWh"},
    {"energy_reactive_q1", "kvarh"},
    {"energy_reactive_q2", "kvarh"}, // 70
    {"energy_reactive_q3", "kvarh"},
    {"energy_reactive_q4", "kvarh"},
}};

constexpr std::array<std::string_view, 4> di_names = {"di_1", "di_2", "di_3", "di_4"};

// "data[1].point[3].val": built only when there is something to say.
std::string point_path(std::size_t entry, std::size_t point, std::string_view field) {
    std::string s = "data[" + std::to_string(entry) + "].point[" + std::to_string(point) + "]";
    if (!field.empty()) s.append(".").append(field);
    return s;
}
std::string entry_path(std::size_t entry, std::string_view field) {
    std::string s = "data[" + std::to_string(entry) + "]";
    if (!field.empty()) s.append(".").append(field);
    return s;
}

// One entry of `data` as it is being decoded.
struct entry_state {
    std::size_t index = 0;
    decoded_reading reading;
    bool has_serial = false;
    decode_result& out;
    problem_list& problems;
};

void take_serial(const json& val, std::size_t point, entry_state& e) {
    std::string problem;
    auto serial = to_serial(val, problem);
    if (!serial) {
        e.problems.add(point_path(e.index, point, "val"), problem);
    } else if (e.has_serial && *serial != e.reading.serial) {
        e.problems.add(point_path(e.index, point, "val"),
                       "a second serial \"" + printable(*serial) + "\" (the entry's is \"" +
                           printable(e.reading.serial) + "\")");
    } else {
        e.reading.serial = std::move(*serial);
        e.has_serial = true;
    }
}

void take_di_bits(double mask, std::size_t point, entry_state& e) {
    const auto bits = whole(mask);
    if (!bits || *bits < 0) {
        e.problems.add(point_path(e.index, point, "val"),
                       json(mask).dump() + " is not a DI bitmask (a whole number >= 0)");
        return;
    }
    for (std::size_t bit = 0; bit < di_names.size(); ++bit)
        e.reading.values.push_back(
            {di_names[bit], static_cast<double>((*bits >> bit) & 1), std::string_view("1")});
}

void decode_point(const json& p, std::size_t point, entry_state& e) {
    if (!p.is_object()) {
        e.problems.add(point_path(e.index, point, ""),
                       std::string(type_name(p)) + " where an object is expected");
        return;
    }
    const auto id_it = p.find("id");
    const auto val_it = p.find("val");
    if (id_it == p.end() || val_it == p.end()) {
        e.problems.add(point_path(e.index, point, id_it == p.end() ? "id" : "val"), "missing");
        return;
    }
    const auto id_number = to_number(*id_it);
    if (!id_number.value) {
        e.problems.add(point_path(e.index, point, "id"),
                       id_number.no_value ? std::string("no id") : id_number.problem);
        return;
    }
    const double id_value = *id_number.value;
    if (std::trunc(id_value) != id_value) {
        e.problems.add(point_path(e.index, point, "id"),
                       json(id_value).dump() + " is not a whole number");
        return;
    }
    if (id_value < 0 || id_value >= static_cast<double>(id_table.size())) {
        ++e.out.skipped; // an id this table does not know: newer firmware, not an error
        return;
    }
    const auto id = static_cast<std::size_t>(id_value);
    const json& val = *val_it;
    if (id == serial_id) return take_serial(val, point, e);
    if (id == iccid_id) {
        if (val.is_string() && !val.get_ref<const std::string&>().empty())
            e.reading.iccid = printable(val.get_ref<const std::string&>(), 64);
        else if (val.is_null() || val.is_string())
            ++e.out.skipped;
        else
            e.problems.add(point_path(e.index, point, "val"),
                           std::string(type_name(val)) + " where the ICCID (a string) is expected");
        return;
    }
    const auto number = to_number(val);
    if (number.no_value) {
        ++e.out.skipped;
        return;
    }
    if (!number.value) {
        e.problems.add(point_path(e.index, point, "val"), number.problem);
        return;
    }
    if (id == di_id) return take_di_bits(*number.value, point, e);
    const auto& entry = id_table[id];
    e.reading.values.push_back({entry.name, *number.value, entry.unit});
}

void decode_entry(const json& entry, std::size_t index, decode_result& out,
                  problem_list& problems) {
    if (!entry.is_object()) {
        problems.add(entry_path(index, ""),
                     std::string(type_name(entry)) + " where an object is expected");
        return;
    }
    entry_state e{.index = index, .reading = {}, .out = out, .problems = problems};
    if (const auto tp = entry.find("tp"); tp != entry.end()) {
        const auto t = to_number(*tp);
        if (t.value) {
            e.reading.ts_ms = to_ms(*t.value, 1);
            if (!e.reading.ts_ms)
                problems.add(entry_path(index, "tp"), json(*t.value).dump() + " is out of range");
        } else if (!t.no_value) {
            problems.add(entry_path(index, "tp"), t.problem); // the values still count
        }
    }
    const auto points = entry.find("point");
    if (points == entry.end() || !points->is_array()) {
        problems.add(entry_path(index, "point"),
                     points == entry.end()
                         ? std::string("missing")
                         : std::string(type_name(*points)) + " where an array is expected");
        return;
    }
    e.reading.values.reserve(points->size() + di_names.size());
    for (std::size_t i = 0; i < points->size(); ++i)
        decode_point((*points)[i], i, e);
    if (!e.has_serial) {
        problems.add(entry_path(index, ""), "no serial (id 0)");
        return;
    }
    out.readings.push_back(std::move(e.reading));
}

} // namespace

decode_result acrel_json_v2_decoder::decode(std::string_view /*topic*/,
                                            std::string_view payload) const {
    decode_result out;
    try {
        json doc;
        out.error = parse_limited(payload, doc);
        if (!out.error.empty()) return out;
        if (!doc.is_object()) {
            out.error = "top level: " + std::string(type_name(doc)) +
                        " where an object with \"data\" is expected";
            return out;
        }
        const auto data = doc.find("data");
        if (data == doc.end() || !data->is_array()) {
            out.error = data == doc.end() ? std::string("data: missing")
                                          : "data: " + std::string(type_name(*data)) +
                                                " where an array is expected";
            return out;
        }
        problem_list problems;
        for (std::size_t i = 0; i < data->size(); ++i)
            decode_entry((*data)[i], i, out, problems);
        out.error = problems.text();
    } catch (const std::bad_alloc&) {
        out.error = "out of memory while decoding";
    } catch (const std::exception& e) {
        out.error = "cannot decode: " + printable(e.what(), 160);
    }
    return out;
}

std::map<std::string, std::string> acrel_json_v2_decoder::units() const {
    std::map<std::string, std::string> out;
    for (const auto& entry : id_table)
        if (!entry.name.empty()) out.emplace(entry.name, model::unit_of(entry.name).value_or(""));
    for (const auto name : di_names)
        out.emplace(name, model::unit_of(name).value_or(""));
    return out;
}

} // namespace mb::drivers::native
