#include "common/json_writer.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

using mb::common::format_number;

BOOST_AUTO_TEST_SUITE(json_number)

BOOST_AUTO_TEST_CASE(meter_values_in_plain_decimal) {
    BOOST_TEST(format_number(230.1) == "230.1");
    BOOST_TEST(format_number(5.03) == "5.03");
    BOOST_TEST(format_number(3456.0) == "3456");
    BOOST_TEST(format_number(12345.67) == "12345.67");
    BOOST_TEST(format_number(0.001) == "0.001");
    BOOST_TEST(format_number(-1500.0) == "-1500");
    BOOST_TEST(format_number(1e6) == "1000000");
    BOOST_TEST(format_number(100000000.0) == "100000000");
    BOOST_TEST(format_number(0.1 + 0.2) == "0.30000000000000004");
    BOOST_TEST(format_number(0.0) == "0");
    BOOST_TEST(format_number(-0.0) == "0");
    BOOST_TEST(format_number(0.00001) == "0.00001");
}

BOOST_AUTO_TEST_CASE(exponent_only_for_tiny_or_huge) {
    BOOST_TEST(format_number(1e-7) == "1e-07");
    BOOST_TEST(format_number(1e16) == "1e+16");
    BOOST_TEST(format_number(std::numeric_limits<double>::quiet_NaN()) == "null");
    BOOST_TEST(format_number(std::numeric_limits<double>::infinity()) == "null");
}

BOOST_AUTO_TEST_CASE(random_doubles_round_trip_through_a_json_parser) {
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
    std::uniform_int_distribution<int> exponent(-12, 18);
    for (int i = 0; i < 5000; ++i) {
        const double v = mantissa(rng) * std::pow(10.0, exponent(rng));
        const auto text = format_number(v);
        const auto back = nlohmann::json::parse(text).get<double>();
        BOOST_TEST(back == v, text);
    }
}

BOOST_AUTO_TEST_CASE(strings_are_escaped) {
    std::string out;
    mb::common::append_string(out, "a\"b\\c\n\x01");
    BOOST_TEST(out == R"("a\"b\\c\n\u0001")");
}

BOOST_AUTO_TEST_SUITE_END()
