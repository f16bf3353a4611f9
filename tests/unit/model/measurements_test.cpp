#include "model/measurements.hpp"
#include "model/reading.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>
#include <set>
#include <stdexcept>
#include <string>

using namespace mb::model;

BOOST_AUTO_TEST_SUITE(measurements)

BOOST_AUTO_TEST_CASE(a_name_and_its_measurement_stand_for_each_other) {
    const auto v = measurement_of("voltage_l1");
    BOOST_REQUIRE(v.has_value());
    BOOST_TEST(name_of(*v) == "voltage_l1");
    BOOST_TEST(unit_of(*v) == "V");
    BOOST_TEST(unit_of("energy_import_total").value() == "kWh");
    BOOST_TEST(name_of(*measurement_of("energy_import_tariff_valley")) ==
               "energy_import_tariff_valley");
}

BOOST_AUTO_TEST_CASE(every_harmonic_content_is_a_measurement_in_percent) {
    std::set<measurement> seen;
    for (const char* kind : {"voltage", "current"})
        for (int phase = 1; phase <= 3; ++phase)
            for (int order = 2; order <= 31; ++order) {
                const auto name = fmt::format("harmonic_{}_l{}_h{}", kind, phase, order);
                const auto m = measurement_of(name);
                BOOST_REQUIRE_MESSAGE(m.has_value(), name);
                BOOST_TEST(name_of(*m) == name);
                BOOST_TEST(unit_of(*m) == "%");
                seen.insert(*m);
            }
    BOOST_TEST(seen.size() == 180U, "each its own");
    for (const char* outside : {"harmonic_voltage_l1_h1", "harmonic_voltage_l1_h32",
                                "harmonic_voltage_l4_h2", "harmonic_voltage_l1_h02"})
        BOOST_TEST(!measurement_of(outside).has_value(), outside);
}

BOOST_AUTO_TEST_CASE(no_other_name_is_a_measurement) {
    for (const char* name : {"", "Voltage_l1", "voltage_l1 ", "voltage", "kwh", "tag"})
        BOOST_TEST(!measurement_of(name).has_value(), name);
    BOOST_TEST(!unit_of("voltage_l4").has_value());
    BOOST_CHECK_THROW((void)reading_value("voltage_l4", 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_reading_value_by_name_is_the_same_as_by_measurement) {
    const reading_value by_name("frequency", 50.01);
    const reading_value by_id(*measurement_of("frequency"), 50.01);
    BOOST_TEST((by_name == by_id));
    BOOST_TEST(by_name.name() == "frequency");
}

BOOST_AUTO_TEST_SUITE_END()
