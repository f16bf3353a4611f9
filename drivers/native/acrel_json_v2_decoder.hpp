#pragma once
// Acrel "json-v2 / analog" (dialect A, docs/native.md), as ADW300 WiFi/4G meters
// publish it on platform/<vendor>/<type>/json-v2/analog/<group>:
//
//   {"data":[{"tp":1736871132698,"point":[{"id":0,"val":"24102809510006"},{"id":1,"val":0}, …]}]}
//
// - Every entry of `data` is its own reading; its serial is its own id 0 (a string, or a whole
//   number). An entry without one is an error for that entry alone.
// - `tp` is the meter's time in Unix ms → ts_ms (a number or numeric string; absent: arrival).
// - `val` is a number or a numeric string; null or "" is no value (skipped). A point with a
//   wrong type is an error for that point; the rest of the entry still decodes.
// - Ids the table below does not know are skipped, not errors.
// - The text is read as a stream straight into the readings, never a tree (it is the relay's
//   hot path): plain text by the decoder's own reader, anything else (escapes, non-ASCII,
//   syntax errors) by nlohmann's SAX parser, so what is accepted and every error text is as
//   nlohmann's parse would have it. A key given twice counts with its last value.
//
// Ids 0–72 (docs/native.md; the id table of Acrel's "ADW3xx MQTT protocol"), with the unit the
// meter sends:
//   0 serial · 1–3 voltage_l1..l3 V · 4–6 voltage_l1_l2, _l2_l3, _l3_l1 V · 7–9 current_l1..l3 A
//   10–13 active_power_l1..l3, _total kW · 14–17 reactive_power_* kvar · 18–21 apparent_power_* kVA
//   22–25 power_factor_l1..l3, _total 1 · 26 frequency Hz · 27 signal_strength dBm
//   28/29 energy_import_total / energy_export_total kWh
//   30/31 energy_reactive_import_total / _export_total kvarh · 32 demand_active_import kW
//   33 ICCID (a string) → decoded_reading::iccid · 34/35 pt_ratio / ct_ratio 1
//   36–39 temperature_l1..l3, temperature_n °C · 40 residual_current A
//   41 DI bitmask → di_1..di_4 (bit0..bit3; a whole number ≥ 0)
//   42–45, 46–49, 50–53 phase A, B, C: energy_import_lN, energy_export_lN kWh,
//                       energy_reactive_import_lN, energy_reactive_export_lN kvarh
//   54–56 thd_voltage_l1..l3 % · 57–59 thd_current_l1..l3 %
//   60 demand_active_export kW · 61/62 demand_reactive_import / _export kvar
//   63/64 voltage_unbalance / current_unbalance %
//   65–68 energy_import_tariff_{sharp,peak,flat,valley} kWh (the table says "active total
//         energy" per tariff; that it is the import counter is our reading,
//         not confirmed: docs/meters.md#open-questions)
//   69–72 energy_reactive_q1..q4 kvarh
#include "drivers/native/decoder.hpp"

namespace mb::drivers::native {

class acrel_json_v2_decoder final : public decoder {
public:
    [[nodiscard]] decode_result decode(std::string_view topic,
                                       std::string_view payload) const override;
    [[nodiscard]] std::map<std::string, std::string> units() const override;
};

} // namespace mb::drivers::native
