#pragma once
// Acrel "device shadow" (dialect C, docs/native.md), as AWT200 gateways and newer 4G
// devices publish it on data/up/{productKey}/{sn}:
//
//   {"method":"report","sn":"1234567890123","timestamp":1638869890,
//    "reported":{"source":"REALTIME","gateway":{"rssi":77},
//                "meters":[{"addr":"sub_dev_1","state":"ONLINE","Ua":220.0}]}}
//   {"method":"update","sn":"24120405680002","timestamp":1738468200,
//    "reported":{"0_24120405680027":{"state":"ONLINE","EP":"21.60","Ua":"226.0"}}}
//
// - Methods `report`, `update` and `update_silent` (an update that wants no reply) carry
//   readings. Any other (`control`, `get`, `delete`, …) gives no readings, no error, and
//   counts as one skipped entry. A payload without `method` is an error.
// - Meters come as `reported.meters[]` or as `reported.<ch>_<sn>` objects; both shapes are
//   read whatever the method. One meter is one reading.
// - Serial: for `<ch>_<sn>` the part after the first '_' (an error when there is none).
//   For `meters[]` it is `addr` when addr looks like a meter serial (8 or more digits, all
//   digits); otherwise `<top-level sn>-<addr>`, because an addr such as "sub_dev_1" is only
//   unique behind its gateway (an error when the payload has no `sn`).
// - `timestamp` is Unix seconds → ts_ms (absent: arrival). It is the whole message's.
// - Per-meter `state` ONLINE / OFFLINE (any case) → decoded_reading::state; an OFFLINE meter
//   still gives a reading (state offline, with whatever values it has, often none).
// - Values are numeric strings or numbers; null or "" is no value (skipped); anything else is
//   an error for that key. Keys not listed below, the keys of `reported.gateway` (its rssi
//   is the gateway's, not a meter's) and other scalars of `reported` are skipped.
//
// Keys mapped, with the unit assumed (I = inferred, nothing on the wire says so):
//   Ua Ub Uc → voltage_l1..l3 V · Uab Ubc → voltage_l1_l2, voltage_l2_l3 V
//   Uca, and Uac → voltage_l3_l1 V: the AWT200 capture sends Uac = 393.2 with Ua 226.0,
//       Ub 0.0, Uc 228.1, Uab 226.0, Ubc 228.1 — |Ua−Uc| with phase B down, so Uac is the
//       A–C line voltage, the same magnitude as C–A
//   Ia Ib Ic → current_l1..l3 A · In → current_n A (I: key by analogy, not in a capture)
//   Pa Pb Pc P → active_power_l1..l3, _total kW (I: Acrel's MQTT unit, as json-v2; the
//       capture has only zeros) · Qa Qb Qc Q → reactive_power_* kvar (I)
//   Sa Sb Sc S → apparent_power_* kVA (I) · PFa PFb PFc PF → power_factor_* 1
//   Fr → frequency Hz · Uub / Iub → voltage_unbalance / current_unbalance % (the capture's
//       Uub 150.6 fits phase B down)
//   EP → energy_active_combined_total kWh · EPI → energy_import_total kWh
//   EPIJ EPIF EPIP EPIG → energy_import_tariff_{sharp,peak,flat,valley} kWh
//       (J 尖 sharp, F 峰 peak, P 平 flat, G 谷 valley)
//   EPE → energy_export_total kWh · EPEJ EPEF EPEP EPEG → energy_export_tariff_* kWh (I: by
//       analogy with EPI*)
//   EQ → energy_reactive_combined_total kvarh (I: by analogy with EP; the capture's
//       EQ 1.60 = EQL 1.60 + EQC 0.00)
// Skipped on purpose: EQL / EQC (inductive / capacitive reactive energy: no vocabulary name),
// anything else.
#include "drivers/native/decoder.hpp"

namespace mb::drivers::native {

class acrel_shadow_decoder final : public decoder {
public:
    [[nodiscard]] decode_result decode(std::string_view topic,
                                       std::string_view payload) const override;
    [[nodiscard]] std::map<std::string, std::string> units() const override;
};

} // namespace mb::drivers::native
