#include "model/measurements.hpp"

#include <array>
#include <cstddef>
#include <fmt/format.h>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

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

// The names as one table: the vocabulary above, then the harmonic contents
// harmonic_{voltage,current}_l{1..3}_h{2..31}, each "%". Built once, immutable after.
class name_table {
public:
    name_table() {
        for (std::string_view kind : {"harmonic_voltage_l", "harmonic_current_l"})
            for (int phase = 1; phase <= 3; ++phase)
                for (int order = 2; order <= 31; ++order)
                    harmonics_.push_back(fmt::format("{}{}_h{}", kind, phase, order));
        entries_.assign(vocabulary.begin(), vocabulary.end());
        for (const auto& h : harmonics_)
            entries_.emplace_back(h, "%");
        // Asked for every value of every reading: a hash lookup, not a scan of the names.
        by_name_.reserve(entries_.size());
        for (std::size_t i = 0; i < entries_.size(); ++i)
            by_name_.emplace(entries_[i].first, static_cast<measurement>(i));
    }

    [[nodiscard]] std::optional<measurement> find(std::string_view name) const {
        const auto it = by_name_.find(name);
        if (it == by_name_.end()) return std::nullopt;
        return it->second;
    }
    [[nodiscard]] std::size_t size() const { return entries_.size(); }
    [[nodiscard]] const entry& at(measurement m) const {
        return entries_.at(static_cast<std::size_t>(m));
    }

private:
    std::vector<std::string> harmonics_; // the harmonic names' storage (never resized after)
    std::vector<entry> entries_;
    std::unordered_map<std::string_view, measurement> by_name_;
};

const name_table& names() {
    static const name_table table;
    return table;
}

} // namespace

std::optional<measurement> measurement_of(std::string_view name) {
    return names().find(name);
}

std::string_view name_of(measurement m) {
    return names().at(m).first;
}

std::string_view unit_of(measurement m) {
    return names().at(m).second;
}

std::size_t measurement_count() {
    return names().size();
}

std::optional<std::string_view> unit_of(std::string_view name) {
    if (const auto m = measurement_of(name)) return unit_of(*m);
    return std::nullopt;
}

} // namespace mb::model
