// Dialect C (docs/native.md): the report example, the AWT200 update capture, both
// meter shapes and their serials, state, methods without readings, and what bad input gets.
#include "drivers/native/decoder.hpp"
#include "model/measurements.hpp"
#include "tests/unit/native/decoder_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace mb::drivers::native;
using namespace mb::drivers::native::testing;
using mb::model::device_state;

namespace {

decode_result decode(std::string_view payload) {
    return make("acrel-shadow")->decode("data/up/pk/24120405680002", payload);
}

// The report shape as Acrel's device-shadow documentation prints it (docs/meters.md#sources).
constexpr std::string_view report_example =
    R"({"method":"report","reported":{"source":"REALTIME","gateway":{"rssi":77},
     "meters":[{"addr":"sub_dev_1","state":"ONLINE","Ua":220.0,"Ub":220.0}]},
   "msgid":123,"fragNo":1,"fragment":5,"timestamp":1638869890,"sn":"1234567890123","sendtime":1638869890,"version":1})";

// The AWT200 update capture as a public subscriber project printed it, with its "…" (keys
// left out there) removed.
constexpr std::string_view update_trimmed =
    R"({"msgid":"571","method":"update","sn":"24120405680002","timestamp":1738468200,"sendtime":1738468200,"version":1,"reported":{"0_24120405680027":{"state":"ONLINE","EP":"21.60","EPI":"21.60","EPIJ":"0.00","EPIF":"0.00","EPIP":"21.60","EPIG":"0.00","EPE":"0.00","EQ":"1.60","EQL":"1.60","EQC":"0.00","Ua":"226.0","PF":"0.0","Fr":"50.1","Uab":"226.0","Ubc":"228.1","Uac":"393.2","Uub":"150.6","Iub":"0.0"}}})";

// The same capture untrimmed, as MQ-WYRE has it.
constexpr std::string_view full_update =
    R"({"msgid":"571","method":"update","sn":"24120405680002","timestamp":1738468200,"sendtime":1738468200,"version":1,"reported":{"0_24120405680027":{"state":"ONLINE","EP":"21.60","EPI":"21.60","EPIJ":"0.00","EPIF":"0.00","EPIP":"21.60","EPIG":"0.00","EPE":"0.00","EQ":"1.60","EQL":"1.60","EQC":"0.00","Ua":"226.0","Ub":"0.0","Uc":"228.1","Ia":"0.0","Ib":"0.0","Ic":"0.0","Pa":"0.0","Pb":"0.0","Pc":"0.0","P":"0.0","Qa":"0.0","Qb":"0.0","Qc":"0.0","Q":"0.0","PFa":"0.0","PFb":"0.0","PFc":"0.0","PF":"0.0","Fr":"50.1","Uab":"226.0","Ubc":"228.1","Uac":"393.2","Uub":"150.6","Iub":"0.0"}}})";

std::string update_with(const std::string& meter_keys) {
    return R"({"method":"update","sn":"24120405680002","timestamp":1738468200,"reported":{"0_24120405680027":{)" +
           meter_keys + "}}}";
}

} // namespace

BOOST_AUTO_TEST_SUITE(acrel_shadow)

BOOST_AUTO_TEST_CASE(reference_report) {
    const auto r = decode(report_example);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 1U); // gateway.rssi: the gateway's, not a meter's
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.serial == "1234567890123-sub_dev_1"); // addr is not a serial: sn-addr
    BOOST_TEST(m.ts_ms == 1638869890000);
    BOOST_TEST((m.state == device_state::online));
    BOOST_TEST(m.values.size() == 2U);
    BOOST_TEST(shown(m, "voltage_l1") == "220 V");
    BOOST_TEST(shown(m, "voltage_l2") == "220 V");
    BOOST_TEST(!m.iccid.has_value());
}

BOOST_AUTO_TEST_CASE(reference_update) {
    const auto r = decode(update_trimmed);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 2U); // EQL, EQC
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.serial == "24120405680027");
    BOOST_TEST(m.ts_ms == 1738468200000);
    BOOST_TEST((m.state == device_state::online));
    BOOST_TEST(m.values.size() == 16U);
    BOOST_TEST(shown(m, "energy_active_combined_total") == "21.6 kWh");
    BOOST_TEST(shown(m, "energy_import_total") == "21.6 kWh");
    BOOST_TEST(shown(m, "energy_import_tariff_sharp") == "0 kWh");
    BOOST_TEST(shown(m, "energy_import_tariff_peak") == "0 kWh");
    BOOST_TEST(shown(m, "energy_import_tariff_flat") == "21.6 kWh");
    BOOST_TEST(shown(m, "energy_import_tariff_valley") == "0 kWh");
    BOOST_TEST(shown(m, "energy_export_total") == "0 kWh");
    BOOST_TEST(shown(m, "energy_reactive_combined_total") == "1.6 kvarh");
    BOOST_TEST(shown(m, "voltage_l1") == "226 V");
    BOOST_TEST(shown(m, "power_factor_total") == "0 1");
    BOOST_TEST(shown(m, "frequency") == "50.1 Hz");
    BOOST_TEST(shown(m, "voltage_l1_l2") == "226 V");
    BOOST_TEST(shown(m, "voltage_l2_l3") == "228.1 V");
    BOOST_TEST(shown(m, "voltage_l3_l1") == "393.2 V"); // Uac: A–C, phase B down
    BOOST_TEST(shown(m, "voltage_unbalance") == "150.6 %");
    BOOST_TEST(shown(m, "current_unbalance") == "0 %");
}

BOOST_AUTO_TEST_CASE(full_update_capture) {
    const auto r = decode(full_update);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 2U);
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.values.size() == 32U); // 34 keys besides state, less EQL and EQC
    BOOST_TEST(shown(m, "voltage_l2") == "0 V");
    BOOST_TEST(shown(m, "voltage_l3") == "228.1 V");
    BOOST_TEST(shown(m, "current_l3") == "0 A");
    BOOST_TEST(shown(m, "active_power_total") == "0 kW");
    BOOST_TEST(shown(m, "reactive_power_l2") == "0 kvar");
    BOOST_TEST(shown(m, "power_factor_l3") == "0 1");
}

BOOST_AUTO_TEST_CASE(every_mapped_key) {
    const std::vector<std::pair<std::string, std::string>> keys = {
        {"Ua", "voltage_l1 V"},
        {"Ub", "voltage_l2 V"},
        {"Uc", "voltage_l3 V"},
        {"Uab", "voltage_l1_l2 V"},
        {"Ubc", "voltage_l2_l3 V"},
        {"Uca", "voltage_l3_l1 V"},
        {"Ia", "current_l1 A"},
        {"Ib", "current_l2 A"},
        {"Ic", "current_l3 A"},
        {"In", "current_n A"},
        {"Pa", "active_power_l1 kW"},
        {"Pb", "active_power_l2 kW"},
        {"Pc", "active_power_l3 kW"},
        {"P", "active_power_total kW"},
        {"Qa", "reactive_power_l1 kvar"},
        {"Qb", "reactive_power_l2 kvar"},
        {"Qc", "reactive_power_l3 kvar"},
        {"Q", "reactive_power_total kvar"},
        {"Sa", "apparent_power_l1 kVA"},
        {"Sb", "apparent_power_l2 kVA"},
        {"Sc", "apparent_power_l3 kVA"},
        {"S", "apparent_power_total kVA"},
        {"PFa", "power_factor_l1 1"},
        {"PFb", "power_factor_l2 1"},
        {"PFc", "power_factor_l3 1"},
        {"PF", "power_factor_total 1"},
        {"Fr", "frequency Hz"},
        {"Uub", "voltage_unbalance %"},
        {"Iub", "current_unbalance %"},
        {"EP", "energy_active_combined_total kWh"},
        {"EPI", "energy_import_total kWh"},
        {"EPIJ", "energy_import_tariff_sharp kWh"},
        {"EPIF", "energy_import_tariff_peak kWh"},
        {"EPIP", "energy_import_tariff_flat kWh"},
        {"EPIG", "energy_import_tariff_valley kWh"},
        {"EPE", "energy_export_total kWh"},
        {"EPEJ", "energy_export_tariff_sharp kWh"},
        {"EPEF", "energy_export_tariff_peak kWh"},
        {"EPEP", "energy_export_tariff_flat kWh"},
        {"EPEG", "energy_export_tariff_valley kWh"},
        {"EQ", "energy_reactive_combined_total kvarh"},
        {"Uac", "voltage_l3_l1 V"}};
    const auto units = make("acrel-shadow")->units();
    for (const auto& [key, name_unit] : keys) {
        const auto r = decode(update_with(R"(")" + key + R"(":"12.5")"));
        BOOST_TEST(r.error == "", key);
        BOOST_TEST_REQUIRE(r.readings.size() == 1U);
        BOOST_TEST_REQUIRE(r.readings[0].values.size() == 1U, key);
        const auto& v = r.readings[0].values[0];
        BOOST_TEST(std::string(v.name) + " " + std::string(v.unit) == name_unit, key);
        BOOST_TEST(v.value == 12.5);
        const auto vocab = std::string(*mb::model::unit_of(v.name));
        BOOST_TEST((v.unit == vocab || v.unit == "k" + vocab), key);
        BOOST_TEST(units.at(std::string(v.name)) == vocab, key);
    }
    BOOST_TEST(units.size() == keys.size() - 1); // Uac and Uca are one name
}

BOOST_AUTO_TEST_CASE(meter_serials) {
    // an addr of 8 or more digits is the meter's serial; others are sn-addr
    const auto r = decode(
        R"({"method":"report","sn":"12345678","timestamp":1,"reported":{"meters":[)"
        R"({"addr":"24120405680027","Ua":"1"},{"addr":"1234567","Ua":"2"},{"addr":3,"Ua":"3"},)"
        R"({"addr":24120405680028,"Ua":"4"},{"addr":"2412040568002x","Ua":"5"}]}})");
    BOOST_TEST(r.error == "");
    BOOST_TEST_REQUIRE(r.readings.size() == 5U);
    BOOST_TEST(r.readings[0].serial == "24120405680027");
    BOOST_TEST(r.readings[1].serial == "12345678-1234567");
    BOOST_TEST(r.readings[2].serial == "12345678-3");
    BOOST_TEST(r.readings[3].serial == "24120405680028");
    BOOST_TEST(r.readings[4].serial == "12345678-2412040568002x");
    BOOST_TEST(r.readings[4].ts_ms == 1000);

    const auto no_sn = decode(
        R"({"method":"report","reported":{"meters":[{"addr":"sub_dev_1","Ua":1},{"addr":"87654321"}]}})");
    BOOST_TEST(
        no_sn.error ==
        R"(reported.meters[0].addr: "sub_dev_1" is not a meter serial and the message has no sn)");
    BOOST_TEST_REQUIRE(no_sn.readings.size() == 1U);
    BOOST_TEST(no_sn.readings[0].serial == "87654321");
    BOOST_TEST(!no_sn.readings[0].ts_ms.has_value()); // no timestamp: arrival

    // <ch>_<sn>: everything after the first '_' (object keys come in name order)
    const auto ch =
        decode(R"({"method":"update","reported":{"1_A_B":{"Ua":1},"12_99999999":{"Ua":2}}})");
    BOOST_TEST(ch.error == "");
    BOOST_TEST_REQUIRE(ch.readings.size() == 2U);
    BOOST_TEST(ch.readings[0].serial == "99999999");
    BOOST_TEST(ch.readings[1].serial == "A_B");
}

BOOST_AUTO_TEST_CASE(state_online_offline) {
    const auto r = decode(
        R"({"method":"report","sn":"1","reported":{"meters":[{"addr":"11111111","state":"OFFLINE"},)"
        R"({"addr":"22222222","state":"online","Ua":"230"},{"addr":"33333333","Ua":"231"},)"
        R"({"addr":"44444444","state":"BROKEN","Ua":"232"},{"addr":"55555555","state":1}]}})");
    BOOST_TEST(r.error ==
               R"(reported.meters[3].state: "BROKEN" where ONLINE or OFFLINE is expected)"
               " (and 1 more)");
    BOOST_TEST_REQUIRE(r.readings.size() == 5U);
    BOOST_TEST((r.readings[0].state == device_state::offline));
    BOOST_TEST(r.readings[0].values.empty()); // an OFFLINE meter is still a reading
    BOOST_TEST((r.readings[1].state == device_state::online));
    BOOST_TEST(!r.readings[2].state.has_value());
    BOOST_TEST(!r.readings[3].state.has_value());
    BOOST_TEST(r.readings[3].values.size() == 1U);
    BOOST_TEST(
        decode(
            R"({"method":"report","sn":"1","reported":{"meters":[{"addr":"55555555","state":1}]}})")
            .error == "reported.meters[0].state: a number where ONLINE or OFFLINE is expected");
}

BOOST_AUTO_TEST_CASE(methods) {
    for (const auto* method : {"control", "get", "delete", "login", ""}) {
        const auto r = decode(std::string(R"({"method":")") + method +
                              R"(","reported":{"0_12345678":{"Ua":"1"}}})");
        BOOST_TEST(r.error == "", method);
        BOOST_TEST(r.readings.empty(), method);
        BOOST_TEST(r.skipped == 1U, method);
    }
    for (const auto* method : {"report", "update", "update_silent"}) {
        const auto r = decode(std::string(R"({"method":")") + method +
                              R"(","reported":{"0_12345678":{"Ua":"1"}}})");
        BOOST_TEST(r.error == "", method);
        BOOST_TEST(r.readings.size() == 1U, method);
    }
    BOOST_TEST(decode(R"({"reported":{}})").error == "method: missing");
    BOOST_TEST(decode(R"({"method":7})").error == "method: a number where a string is expected");
    BOOST_TEST(decode(R"({"method":"update"})").error == "reported: missing");
    BOOST_TEST(decode(R"({"method":"update","reported":[]})").error ==
               "reported: an array where an object is expected");
}

BOOST_AUTO_TEST_CASE(values_and_wrong_types) {
    const auto r = decode(update_with(
        R"("Ua":"226.0","Ub":226.5,"Uc":"x","Ia":true,"Ib":null,"Ic":"","Pa":{},"Foo":"1","P":"-1.5")"));
    BOOST_TEST(
        r.error ==
        R"(reported.0_24120405680027.Ia: a boolean where a number is expected (and 2 more))");
    BOOST_TEST(r.skipped == 3U); // Ib null, Ic "", Foo unknown
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.values.size() == 3U);
    BOOST_TEST(shown(m, "voltage_l1") == "226 V");
    BOOST_TEST(shown(m, "voltage_l2") == "226.5 V");
    BOOST_TEST(shown(m, "active_power_total") == "-1.5 kW");
    BOOST_TEST(decode(update_with(R"("Uc":"x")")).error ==
               R"(reported.0_24120405680027.Uc: a string where a number is expected ("x"))");
}

BOOST_AUTO_TEST_CASE(timestamps) {
    const auto at = [](const std::string& ts) {
        return decode(R"({"method":"update","timestamp":)" + ts +
                      R"(,"reported":{"0_12345678":{"Ua":"1"}}})");
    };
    BOOST_TEST(at("1738468200").readings.at(0).ts_ms == 1738468200000);
    BOOST_TEST(at("\"1738468200\"").readings.at(0).ts_ms == 1738468200000);
    BOOST_TEST(at("1738468200.25").readings.at(0).ts_ms == 1738468200250);
    BOOST_TEST(!at("null").readings.at(0).ts_ms.has_value());
    const auto bad = at("true");
    BOOST_TEST(bad.error == "timestamp: a boolean where a number is expected");
    BOOST_TEST_REQUIRE(bad.readings.size() == 1U); // the values still go, at arrival time
    BOOST_TEST(!bad.readings[0].ts_ms.has_value());
    BOOST_TEST(at("1e300").error == "timestamp: 1e+300 is out of range");
}

BOOST_AUTO_TEST_CASE(absurd_shapes) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[]", "top level: an array where an object with \"method\" is expected"},
        {"1", "top level: a number where an object with \"method\" is expected"},
        {"\"x\"", "top level: a string where an object with \"method\" is expected"},
        {R"({"method":"report","reported":{"meters":{}}})",
         "reported.meters: an object where an array is expected"},
        {R"({"method":"report","reported":{"meters":[1]}})",
         "reported.meters[0]: a number where an object is expected"},
        {R"({"method":"report","reported":{"meters":[{"Ua":1}]}})",
         "reported.meters[0].addr: missing"},
        {R"({"method":"report","reported":{"meters":[{"addr":""}]}})",
         "reported.meters[0].addr: an empty serial"},
        {R"({"method":"report","reported":{"meters":[{"addr":[1]}]}})",
         "reported.meters[0].addr: an array where a serial (string or number) is expected"},
        {R"({"method":"update","reported":{"nounderscore":{"Ua":1}}})",
         "reported.nounderscore: not <channel>_<serial>"},
        {R"({"method":"update","reported":{"0_":{"Ua":1}}})",
         "reported.0_: not <channel>_<serial>"},
    };
    for (const auto& [payload, why] : cases) {
        const auto r = decode(payload);
        BOOST_TEST(r.error == why, payload);
        BOOST_TEST(r.readings.empty(), payload);
    }
    const auto scalars =
        decode(R"({"method":"update","reported":{"x":1,"y":"z","source":"HISTORY"}})");
    BOOST_TEST(scalars.error == "");
    BOOST_TEST(scalars.skipped == 2U);
}

BOOST_AUTO_TEST_CASE(not_json_empty_too_big_too_deep) {
    BOOST_TEST(decode("").error == "empty payload");
    BOOST_TEST(decode("{\"method\":").error.starts_with("not JSON: parse error at line 1"));
    BOOST_TEST(decode(payload_of_size(max_payload_bytes + 1)).error ==
               "payload of 262145 bytes is larger than the 262144 accepted");
    BOOST_TEST(decode(nested_arrays(max_json_depth + 1)).error == "nested deeper than 16 levels");
    std::string deep_meter = R"({"method":"update","reported":{"0_12345678":{"Ua":)";
    for (int i = 0; i < 14; ++i)
        deep_meter += "[";
    BOOST_TEST(decode(deep_meter).error == "nested deeper than 16 levels"); // before parsing
}

BOOST_AUTO_TEST_SUITE_END()
