#include "model/measurements.hpp"

#include <array>
#include <charconv>
#include <unordered_map>
#include <utility>

namespace mb::model {
namespace {

using entry = std::pair<std::string_view, std::string_view>;

// docs/measurements.md, family by family. Keep this the only copy.
constexpr std::array vocabulary = {
    entry{"voltage_l1", "V"},
    entry{"voltage_l2", "V"},
    entry{"voltage_l3", "V"},
    entry{"voltage_l1_l2", "V"},
    entry{"voltage_l2_l3", "V"},
    entry{"voltage_l3_l1", "V"},
    entry{"current_l1", "A"},
    entry{"current_l2", "A"},
    entry{"current_l3", "A"},
    entry{"current_n", "A"},
    entry{"residual_current", "A"},
    entry{"active_power_l1", "W"},
    entry{"active_power_l2", "W"},
    entry{"active_power_l3", "W"},
    entry{"active_power_total", "W"},
    entry{"reactive_power_l1", "var"},
    entry{"reactive_power_l2", "var"},
    entry{"reactive_power_l3", "var"},
    entry{"reactive_power_total", "var"},
    entry{"apparent_power_l1", "VA"},
    entry{"apparent_power_l2", "VA"},
    entry{"apparent_power_l3", "VA"},
    entry{"apparent_power_total", "VA"},
    entry{"power_factor_l1", "1"},
    entry{"power_factor_l2", "1"},
    entry{"power_factor_l3", "1"},
    entry{"power_factor_total", "1"},
    entry{"frequency", "Hz"},
    entry{"energy_import_total", "kWh"},
    entry{"energy_export_total", "kWh"},
    entry{"energy_active_combined_total", "kWh"},
    entry{"energy_import_l1", "kWh"},
    entry{"energy_import_l2", "kWh"},
    entry{"energy_import_l3", "kWh"},
    entry{"energy_export_l1", "kWh"},
    entry{"energy_export_l2", "kWh"},
    entry{"energy_export_l3", "kWh"},
    entry{"energy_reactive_import_total", "kvarh"},
    entry{"energy_reactive_export_total", "kvarh"},
    entry{"energy_reactive_q1", "kvarh"},
    entry{"energy_reactive_q2", "kvarh"},
    entry{"energy_reactive_q3", "kvarh"},
    entry{"energy_reactive_q4", "kvarh"},
    entry{"energy_reactive_import_l1", "kvarh"},
    entry{"energy_reactive_import_l2", "kvarh"},
    entry{"energy_reactive_import_l3", "kvarh"},
    entry{"energy_reactive_export_l1", "kvarh"},
    entry{"energy_reactive_export_l2", "kvarh"},
    entry{"energy_reactive_export_l3", "kvarh"},
    entry{"energy_reactive_combined_total", "kvarh"},
    entry{"energy_import_tariff_sharp", "kWh"},
    entry{"energy_import_tariff_peak", "kWh"},
    entry{"energy_import_tariff_flat", "kWh"},
    entry{"energy_import_tariff_valley", "kWh"},
    entry{"energy_export_tariff_sharp", "kWh"},
    entry{"energy_export_tariff_peak", "kWh"},
    entry{"energy_export_tariff_flat", "kWh"},
    entry{"energy_export_tariff_valley", "kWh"},
    entry{"energy_combined_tariff_sharp", "kWh"},
    entry{"energy_combined_tariff_peak", "kWh"},
    entry{"energy_combined_tariff_flat", "kWh"},
    entry{"energy_combined_tariff_valley", "kWh"},
    entry{"energy_reactive_import_tariff_sharp", "kvarh"},
    entry{"energy_reactive_import_tariff_peak", "kvarh"},
    entry{"energy_reactive_import_tariff_flat", "kvarh"},
    entry{"energy_reactive_import_tariff_valley", "kvarh"},
    entry{"energy_reactive_export_tariff_sharp", "kvarh"},
    entry{"energy_reactive_export_tariff_peak", "kvarh"},
    entry{"energy_reactive_export_tariff_flat", "kvarh"},
    entry{"energy_reactive_export_tariff_valley", "kvarh"},
    entry{"demand_active_import", "W"},
    entry{"demand_active_export", "W"},
    entry{"demand_active_import_max", "W"},
    entry{"demand_reactive_import", "var"},
    entry{"demand_reactive_export", "var"},
    entry{"demand_apparent", "VA"},
    entry{"thd_voltage_l1", "%"},
    entry{"thd_voltage_l2", "%"},
    entry{"thd_voltage_l3", "%"},
    entry{"thd_current_l1", "%"},
    entry{"thd_current_l2", "%"},
    entry{"thd_current_l3", "%"},
    entry{"voltage_unbalance", "%"},
    entry{"current_unbalance", "%"},
    entry{"temperature_l1", "°C"},
    entry{"temperature_l2", "°C"},
    entry{"temperature_l3", "°C"},
    entry{"temperature_n", "°C"},
    entry{"di_1", "1"},
    entry{"di_2", "1"},
    entry{"di_3", "1"},
    entry{"di_4", "1"},
    entry{"do_1", "1"},
    entry{"do_2", "1"},
    entry{"alarm_state", "1"},
    entry{"pt_ratio", "1"},
    entry{"ct_ratio", "1"},
    entry{"signal_strength", "dBm"},
};

// harmonic_voltage_l1_h2 ... harmonic_current_l3_h31
bool is_harmonic(std::string_view name) {
    for (std::string_view kind : {"harmonic_voltage_l", "harmonic_current_l"}) {
        if (!name.starts_with(kind)) continue;
        name.remove_prefix(kind.size());
        if (name.size() < 4 || name[0] < '1' || name[0] > '3' || name.substr(1, 2) != "_h")
            return false;
        name.remove_prefix(3);
        if (name.starts_with('0')) return false;
        int order = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), order);
        return ec == std::errc{} && end == name.data() + name.size() && order >= 2 && order <= 31;
    }
    return false;
}

} // namespace

std::optional<std::string_view> unit_of(std::string_view name) {
    // Asked for every value of every reading of every source: a hash lookup, not a scan of
    // the ~100 names. Built once, immutable after.
    static const std::unordered_map<std::string_view, std::string_view> by_name(vocabulary.begin(),
                                                                                vocabulary.end());
    if (const auto it = by_name.find(name); it != by_name.end()) return it->second;
    if (is_harmonic(name)) return "%";
    return std::nullopt;
}

} // namespace mb::model
