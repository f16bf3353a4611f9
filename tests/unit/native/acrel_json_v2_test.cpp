// Dialect A (docs/native.md): the captured ADW300 payloads, the full id table 0–72,
// the DI bits and tariffs, several entries, and what bad input gets.
#include "drivers/native/decoder.hpp"
#include "model/measurements.hpp"
#include "tests/unit/native/decoder_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace mb::drivers::native;
using namespace mb::drivers::native::testing;

namespace {

decode_result decode(std::string_view payload) {
    return make("acrel-json-v2")->decode("platform/acrel/meter/json-v2/analog/0000", payload);
}

// A captured ADW300 json-v2 payload, as a public subscriber project printed it (trimmed
// there; docs/meters.md#sources).
constexpr std::string_view reference_capture = R"({"data":[{"tp":1736871132698,
            "point":[{"id":0,"val":"24102809510006"},{"id":1,"val":0},{"id":2,"val":211.4},
                     {"id":4,"val":211.4},{"id":5,"val":211.4},{"id":22,"val":1},{"id":26,"val":50.23},
                     {"id":27,"val":14},{"id":33,"val":"8923420037880998454F"},{"id":34,"val":1},{"id":35,"val":2}]}]})";

// The same capture untrimmed, as MQ-WYRE has it (ids 0–35).
constexpr std::string_view full_capture =
    R"({"data":[{"tp":1736871132698,"point":[{"id":0,"val":"24102809510006"},{"id":1,"val":0},{"id":2,"val":211.4},{"id":3,"val":0},{"id":4,"val":211.4},{"id":5,"val":211.4},{"id":6,"val":0},{"id":7,"val":0},{"id":8,"val":0},{"id":9,"val":0},{"id":10,"val":0},{"id":11,"val":0},{"id":12,"val":0},{"id":13,"val":0},{"id":14,"val":0},{"id":15,"val":0},{"id":16,"val":0},{"id":17,"val":0},{"id":18,"val":0},{"id":19,"val":0},{"id":20,"val":0},{"id":21,"val":0},{"id":22,"val":1},{"id":23,"val":1},{"id":24,"val":1},{"id":25,"val":1},{"id":26,"val":50.23},{"id":27,"val":14},{"id":28,"val":0},{"id":29,"val":0},{"id":30,"val":0},{"id":31,"val":0},{"id":32,"val":0},{"id":33,"val":"8923420037880998454F"},{"id":34,"val":1},{"id":35,"val":2}]}]})";

// Every id 0–72 once, val = id + 0.5 (serial, ICCID and DI apart).
std::string all_ids_payload() {
    std::string p = R"({"data":[{"tp":1736871132698,"point":[{"id":0,"val":"24102809510006"})";
    for (int id = 1; id <= 72; ++id) {
        std::string val = std::to_string(id) + ".5";
        if (id == 33) val = R"("8923420037880998454F")";
        if (id == 41) val = "10"; // DI2 and DI4
        p += R"(,{"id":)" + std::to_string(id) + R"(,"val":)" + val + "}";
    }
    return p + "]}]}";
}

std::string entry(const std::string& points) {
    return R"({"data":[{"tp":1000,"point":[)" + points + "]}]}";
}

} // namespace

BOOST_AUTO_TEST_SUITE(acrel_json_v2)

BOOST_AUTO_TEST_CASE(reference_capture_decodes_exactly) {
    const auto r = decode(reference_capture);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 0U);
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.serial == "24102809510006");
    BOOST_TEST(m.ts_ms == 1736871132698);
    BOOST_TEST(m.iccid == "8923420037880998454F");
    BOOST_TEST(!m.state.has_value());
    std::vector<std::string> got;
    for (const auto& v : m.values) {
        std::ostringstream s;
        s << v.name << '=' << v.value << ' ' << v.unit;
        got.push_back(s.str());
    }
    const std::vector<std::string> want = {
        "voltage_l1=0 V",         "voltage_l2=211.4 V",  "voltage_l1_l2=211.4 V",
        "voltage_l2_l3=211.4 V",  "power_factor_l1=1 1", "frequency=50.23 Hz",
        "signal_strength=14 dBm", "pt_ratio=1 1",        "ct_ratio=2 1"};
    BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(full_capture_gives_powers_in_kw) {
    const auto r = decode(full_capture);
    BOOST_TEST(r.error == "");
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.values.size() == 34U); // ids 1–32, 34, 35
    BOOST_TEST(shown(m, "active_power_total") == "0 kW");
    BOOST_TEST(shown(m, "reactive_power_l1") == "0 kvar");
    BOOST_TEST(shown(m, "apparent_power_total") == "0 kVA");
    BOOST_TEST(shown(m, "demand_active_import") == "0 kW");
    BOOST_TEST(shown(m, "power_factor_total") == "1 1");
    BOOST_TEST(shown(m, "energy_reactive_export_total") == "0 kvarh");
}

BOOST_AUTO_TEST_CASE(every_id_of_the_table) {
    const auto r = decode(all_ids_payload());
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 0U);
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    const auto& m = r.readings[0];
    BOOST_TEST(m.iccid == "8923420037880998454F");
    // id → name, unit: the id table of docs/native.md
    const std::vector<std::pair<int, std::string>> table = {
        {1, "voltage_l1 V"},
        {2, "voltage_l2 V"},
        {3, "voltage_l3 V"},
        {4, "voltage_l1_l2 V"},
        {5, "voltage_l2_l3 V"},
        {6, "voltage_l3_l1 V"},
        {7, "current_l1 A"},
        {8, "current_l2 A"},
        {9, "current_l3 A"},
        {10, "active_power_l1 kW"},
        {11, "active_power_l2 kW"},
        {12, "active_power_l3 kW"},
        {13, "active_power_total kW"},
        {14, "reactive_power_l1 kvar"},
        {15, "reactive_power_l2 kvar"},
        {16, "reactive_power_l3 kvar"},
        {17, "reactive_power_total kvar"},
        {18, "apparent_power_l1 kVA"},
        {19, "apparent_power_l2 kVA"},
        {20, "apparent_power_l3 kVA"},
        {21, "apparent_power_total kVA"},
        {22, "power_factor_l1 1"},
        {23, "power_factor_l2 1"},
        {24, "power_factor_l3 1"},
        {25, "power_factor_total 1"},
        {26, "frequency Hz"},
        {27, "signal_strength dBm"},
        {28, "energy_import_total kWh"},
        {29, "energy_export_total kWh"},
        {30, "energy_reactive_import_total kvarh"},
        {31, "energy_reactive_export_total kvarh"},
        {32, "demand_active_import kW"},
        {34, "pt_ratio 1"},
        {35, "ct_ratio 1"},
        {36, "temperature_l1 °C"},
        {37, "temperature_l2 °C"},
        {38, "temperature_l3 °C"},
        {39, "temperature_n °C"},
        {40, "residual_current A"},
        {42, "energy_import_l1 kWh"},
        {43, "energy_export_l1 kWh"},
        {44, "energy_reactive_import_l1 kvarh"},
        {45, "energy_reactive_export_l1 kvarh"},
        {46, "energy_import_l2 kWh"},
        {47, "energy_export_l2 kWh"},
        {48, "energy_reactive_import_l2 kvarh"},
        {49, "energy_reactive_export_l2 kvarh"},
        {50, "energy_import_l3 kWh"},
        {51, "energy_export_l3 kWh"},
        {52, "energy_reactive_import_l3 kvarh"},
        {53, "energy_reactive_export_l3 kvarh"},
        {54, "thd_voltage_l1 %"},
        {55, "thd_voltage_l2 %"},
        {56, "thd_voltage_l3 %"},
        {57, "thd_current_l1 %"},
        {58, "thd_current_l2 %"},
        {59, "thd_current_l3 %"},
        {60, "demand_active_export kW"},
        {61, "demand_reactive_import kvar"},
        {62, "demand_reactive_export kvar"},
        {63, "voltage_unbalance %"},
        {64, "current_unbalance %"},
        {65, "energy_import_tariff_sharp kWh"},
        {66, "energy_import_tariff_peak kWh"},
        {67, "energy_import_tariff_flat kWh"},
        {68, "energy_import_tariff_valley kWh"},
        {69, "energy_reactive_q1 kvarh"},
        {70, "energy_reactive_q2 kvarh"},
        {71, "energy_reactive_q3 kvarh"},
        {72, "energy_reactive_q4 kvarh"}};
    BOOST_TEST(m.values.size() == table.size() + 4); // + di_1..di_4
    for (const auto& [id, name_unit] : table) {
        const auto name = name_unit.substr(0, name_unit.find(' '));
        BOOST_TEST(shown(m, name) == std::to_string(id) + ".5" + name_unit.substr(name.size()),
                   "id " << id);
    }
    BOOST_TEST(shown(m, "di_1") == "0 1");
    BOOST_TEST(shown(m, "di_2") == "1 1");
    BOOST_TEST(shown(m, "di_3") == "0 1");
    BOOST_TEST(shown(m, "di_4") == "1 1");
}

BOOST_AUTO_TEST_CASE(units_are_the_vocabulary_and_every_sent_unit_converts) {
    const auto d = make("acrel-json-v2");
    const auto units = d->units();
    BOOST_TEST(units.size() == 72U - 2 + 4); // ids 1–72 less ICCID and DI, + di_1..di_4
    for (const auto& [name, unit] : units)
        BOOST_TEST(mb::model::unit_of(name) == std::optional<std::string_view>(unit), name);
    // A unit sent is the vocabulary's, or the k-prefixed power the normalizer converts.
    const auto r = d->decode("", all_ids_payload());
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    for (const auto& v : r.readings[0].values) {
        const auto vocab = std::string(*mb::model::unit_of(v.name));
        BOOST_TEST((v.unit == vocab || v.unit == "k" + vocab), v.name << " in " << v.unit);
        BOOST_TEST(units.contains(std::string(v.name)), v.name);
    }
}

BOOST_AUTO_TEST_CASE(di_bits) {
    for (const auto& [mask, bits] :
         std::vector<std::pair<std::string, std::string>>{{"0", "0000"},
                                                          {"1", "1000"},
                                                          {"15", "1111"},
                                                          {"\"6\"", "0110"},
                                                          {"48", "0000"},
                                                          {"4.0", "0010"}}) {
        const auto r = decode(entry(R"({"id":0,"val":"1"},{"id":41,"val":)" + mask + "}"));
        BOOST_TEST(r.error == "");
        BOOST_TEST_REQUIRE(r.readings.size() == 1U);
        std::string got;
        for (const auto* name : {"di_1", "di_2", "di_3", "di_4"})
            got += value_of(r.readings[0], name)->value == 1.0 ? '1' : '0';
        BOOST_TEST(got == bits, "mask " << mask);
    }
    for (const auto& [mask, why] : std::vector<std::pair<std::string, std::string>>{
             {"-1", "-1.0 is not a DI bitmask (a whole number >= 0)"},
             {"2.5", "2.5 is not a DI bitmask (a whole number >= 0)"},
             {"true", "a boolean where a number is expected"}}) {
        const auto r = decode(entry(R"({"id":0,"val":"1"},{"id":41,"val":)" + mask + "}"));
        BOOST_TEST(r.error == "data[0].point[1].val: " + why);
        BOOST_TEST_REQUIRE(r.readings.size() == 1U);
        BOOST_TEST(r.readings[0].values.empty());
    }
}

BOOST_AUTO_TEST_CASE(every_entry_is_its_own_reading) {
    const auto r =
        decode(R"({"data":[{"tp":1000,"point":[{"id":0,"val":"11111111"},{"id":1,"val":230}]},)"
               R"({"tp":2000,"point":[{"id":1,"val":231}]},)"
               R"({"tp":3000,"point":[{"id":1,"val":232},{"id":0,"val":33333333}]}]})");
    BOOST_TEST(r.error == "data[1]: no serial (id 0)");
    BOOST_TEST_REQUIRE(r.readings.size() == 2U);
    BOOST_TEST(r.readings[0].serial == "11111111");
    BOOST_TEST(r.readings[0].ts_ms == 1000);
    BOOST_TEST(shown(r.readings[0], "voltage_l1") == "230 V");
    BOOST_TEST(r.readings[1].serial == "33333333"); // a number, wherever in the list
    BOOST_TEST(r.readings[1].ts_ms == 3000);
    BOOST_TEST(shown(r.readings[1], "voltage_l1") == "232 V");
    BOOST_TEST(!r.readings[1].iccid.has_value());
}

BOOST_AUTO_TEST_CASE(numeric_strings_and_no_values) {
    const auto r = decode(
        R"({"data":[{"tp":"1736871132698","point":[{"id":"0","val":"24102809510006"},)"
        R"({"id":1,"val":"230.5"},{"id":2,"val":" -1e1 "},{"id":3,"val":null},{"id":4,"val":""},)"
        R"({"id":33,"val":""}]}]})");
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 3U); // null, "" and the empty ICCID are no value
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    BOOST_TEST(r.readings[0].ts_ms == 1736871132698);
    BOOST_TEST(shown(r.readings[0], "voltage_l1") == "230.5 V");
    BOOST_TEST(shown(r.readings[0], "voltage_l2") == "-10 V");
    BOOST_TEST(r.readings[0].values.size() == 2U);
    BOOST_TEST(!r.readings[0].iccid.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_ids_are_skipped_not_errors) {
    const auto r = decode(
        entry(R"({"id":0,"val":"1"},{"id":73,"val":1},{"id":-1,"val":1},{"id":100000,"val":"x"},)"
              R"({"id":1e300,"val":1},{"id":7,"val":1.5})"));
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.skipped == 4U);
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    BOOST_TEST(shown(r.readings[0], "current_l1") == "1.5 A");
}

BOOST_AUTO_TEST_CASE(a_wrong_point_costs_only_itself) {
    const auto r = decode(
        entry(R"({"id":0,"val":"24102809510006"},{"id":1,"val":230},{"id":2,"val":"abc"},)"
              R"({"id":3,"val":true},{"id":4,"val":[1]},{"id":5,"val":{}},{"id":6,"val":400})"));
    BOOST_TEST(r.error == R"(data[0].point[2].val: a string where a number is expected ("abc"))"
                          " (and 3 more)");
    BOOST_TEST_REQUIRE(r.readings.size() == 1U);
    BOOST_TEST(r.readings[0].values.size() == 2U);
    BOOST_TEST(shown(r.readings[0], "voltage_l3_l1") == "400 V");
    const std::vector<std::pair<std::string, std::string>> one_each = {
        {R"({"id":3,"val":true})", "data[0].point[1].val: a boolean where a number is expected"},
        {R"({"id":3,"val":[1]})", "data[0].point[1].val: an array where a number is expected"},
        {R"({"id":3,"val":{}})", "data[0].point[1].val: an object where a number is expected"},
        {R"({"id":3,"val":"1e999"})", R"(data[0].point[1].val: a number out of range ("1e999"))"},
        {R"({"id":3,"val":"nan"})",
         R"(data[0].point[1].val: a string where a number is expected ("nan"))"},
        {R"({"id":3})", "data[0].point[1].val: missing"},
        {R"({"val":3})", "data[0].point[1].id: missing"},
        {R"({"id":1.5,"val":3})", "data[0].point[1].id: 1.5 is not a whole number"},
        {R"({"id":"x","val":3})",
         R"(data[0].point[1].id: a string where a number is expected ("x"))"},
        {R"({"id":null,"val":3})", "data[0].point[1].id: no id"},
        {R"(7)", "data[0].point[1]: a number where an object is expected"},
        {R"({"id":33,"val":8923420037})",
         "data[0].point[1].val: a number where the ICCID (a string) is expected"},
        {R"({"id":0,"val":"2"})",
         R"(data[0].point[1].val: a second serial "2" (the entry's is "1"))"},
        {R"({"id":0,"val":1.5})",
         "data[0].point[1].val: a number that is not a whole serial below 2^53"},
        {R"({"id":0,"val":true})",
         "data[0].point[1].val: a boolean where a serial (string or number) is expected"},
    };
    for (const auto& [point, why] : one_each) {
        const auto one = decode(entry(R"({"id":0,"val":"1"},)" + point));
        BOOST_TEST(one.error == why, point);
        BOOST_TEST(one.readings.size() == 1U, point);
    }
}

BOOST_AUTO_TEST_CASE(a_bad_tp_keeps_the_values_at_arrival_time) {
    const auto r =
        decode(R"({"data":[{"tp":true,"point":[{"id":0,"val":"1"},{"id":1,"val":2}]},)"
               R"({"point":[{"id":0,"val":"2"}]},{"tp":1e300,"point":[{"id":0,"val":"3"}]}]})");
    BOOST_TEST(r.error == "data[0].tp: a boolean where a number is expected (and 1 more)");
    BOOST_TEST_REQUIRE(r.readings.size() == 3U);
    BOOST_TEST(!r.readings[0].ts_ms.has_value());
    BOOST_TEST(r.readings[0].values.size() == 1U);
    BOOST_TEST(!r.readings[1].ts_ms.has_value()); // no tp: arrival, not an error
    BOOST_TEST(!r.readings[2].ts_ms.has_value());
    BOOST_TEST(decode(R"({"data":[{"tp":1e300,"point":[{"id":0,"val":"3"}]}]})").error ==
               "data[0].tp: 1e+300 is out of range");
}

BOOST_AUTO_TEST_CASE(absurd_shapes) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[]", "top level: an array where an object with \"data\" is expected"},
        {"42", "top level: a number where an object with \"data\" is expected"},
        {"\"data\"", "top level: a string where an object with \"data\" is expected"},
        {"null", "top level: null where an object with \"data\" is expected"},
        {"{}", "data: missing"},
        {R"({"data":{"tp":1}})", "data: an object where an array is expected"},
        {R"({"data":[1,{"tp":1,"point":[{"id":0,"val":"9"}]}]})",
         "data[0]: a number where an object is expected"},
        {R"({"data":[{"tp":1}]})", "data[0].point: missing"},
        {R"({"data":[{"tp":1,"point":{"id":0}}]})",
         "data[0].point: an object where an array is expected"},
        {R"({"data":[{"tp":1,"point":[]}]})", "data[0]: no serial (id 0)"},
    };
    for (const auto& [payload, why] : cases)
        BOOST_TEST(decode(payload).error == why, payload);
    BOOST_TEST(decode(R"({"data":[1,{"tp":1,"point":[{"id":0,"val":"9"}]}]})").readings.size() ==
               1U);
    const auto empty = decode(R"({"data":[]})");
    BOOST_TEST(empty.error == "");
    BOOST_TEST(empty.readings.empty());
}

BOOST_AUTO_TEST_CASE(not_json_empty_too_big_too_deep) {
    BOOST_TEST(decode("").error == "empty payload");
    BOOST_TEST(decode("{").error ==
               "not JSON: parse error at line 1, column 2: syntax error while parsing object key - "
               "unexpected end of input; expected string literal");
    BOOST_TEST(decode("hello").error == "not JSON: parse error at line 1, column 1: syntax error "
                                        "while parsing value - invalid literal; last read: 'h'");
    BOOST_TEST(decode(" ").error.starts_with("not JSON: "));
    BOOST_TEST(decode(std::string("{\"data\":[]}\0\0", 13)).error == ""); // a C string's end
    BOOST_TEST(decode(std::string("{\"data\":[]}\0{", 13)).error ==
               "not JSON: a NUL byte at offset 11");
    BOOST_TEST(decode(std::string("\0", 1)).error == "empty payload");
    BOOST_TEST(decode(R"({"data":[1e400]})").error == "not JSON: number overflow parsing '1e400'");
    BOOST_TEST(decode("{\"data\":[\"\xff\"]}").error.starts_with("not JSON: "));

    BOOST_TEST(decode(payload_of_size(max_payload_bytes)).error == "");
    BOOST_TEST(decode(payload_of_size(max_payload_bytes + 1)).error ==
               "payload of 262145 bytes is larger than the 262144 accepted");

    BOOST_TEST(decode(nested_arrays(max_json_depth)).error ==
               "top level: an array where an object with \"data\" is expected");
    BOOST_TEST(decode(nested_arrays(max_json_depth + 1)).error == "nested deeper than 16 levels");
    BOOST_TEST(decode(nested_arrays(100000)).error == "nested deeper than 16 levels");
    // Brackets inside strings are text, escaped quotes do not end a string.
    BOOST_TEST(decode(R"({"data":[],"x":"[[[[[[[[[[[[[[[[[[[[[[ \" [[[[[[[[[[[[[[[[[["})").error ==
               "");
}

BOOST_AUTO_TEST_SUITE_END()
