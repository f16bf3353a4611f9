// Decoding a poll's answers: failed requests blank only their values, PT/CT ratios of
// secondary profiles (read, remembered, overridden, missing), NaN counted as a bad value.
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "tests/unit/rtu/plan_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

using namespace mb::drivers::rtu;
using namespace mb::drivers::rtu::testing;

BOOST_AUTO_TEST_SUITE(poll_decode)

BOOST_AUTO_TEST_CASE(meter_ratio_missing_means_one) {
    profile p;
    p.secondary = true;
    p.values = {val("voltage_l1", 20)};
    p.values[0].ratio = ratio_kind::ptct;
    auto plan = plan_reads(p, {});
    auto d = decode_results(plan, answer(plan, {{20, 7}}));
    BOOST_TEST_REQUIRE(d.values.size() == 1U);
    BOOST_TEST(d.values[0].second == 7.0);
}

BOOST_AUTO_TEST_CASE(failed_ratio_request_never_publishes_unscaled_values) {
    const auto p = secondary_meter(50, 51, 52);
    auto plan = plan_reads(p, {});
    BOOST_TEST_REQUIRE(plan.requests.size() == 2U); // the ratios at 14..15, the values at 50..52
    BOOST_TEST(plan.requests[0].address == 14);
    const std::map<int, std::uint16_t> img{{14, 2}, {15, 50}, {50, 2301}, {51, 503}, {52, 5002}};
    auto res = answer(plan, img);
    res[0].ok = false; // the ratios' answer had a bad CRC
    res[0].regs.clear();
    // never read: values that need a ratio are absent, the others are there
    auto d = decode_results(plan, res);
    BOOST_TEST_REQUIRE(d.values.size() == 1U);
    BOOST_TEST(d.values[0].first == "frequency");
    BOOST_TEST(d.bad_values == 0);
    meter_ratios known;
    d = decode_results(plan, res, std::nullopt, std::nullopt, &known);
    BOOST_TEST(d.values.size() == 1U);
    BOOST_TEST(!known.pt.has_value());
    // read once: remembered, and used when a later poll's ratio request fails
    d = decode_results(plan, answer(plan, img), std::nullopt, std::nullopt, &known);
    BOOST_TEST(d.values.size() == 5U);
    BOOST_TEST((known.pt == 2.0 && known.ct == 50.0));
    d = decode_results(plan, res, std::nullopt, std::nullopt, &known);
    std::map<std::string, double> got(d.values.begin(), d.values.end());
    BOOST_TEST(got.size() == 3U);
    BOOST_TEST(got["voltage_l1"] == 4602.0);
    BOOST_TEST(got["current_l1"] == 25150.0);
    // an override needs no reading of the meter's ratio
    d = decode_results(plan, res, 10.0, 1.0);
    got = {d.values.begin(), d.values.end()};
    BOOST_TEST(got["voltage_l1"] == 23010.0);
    BOOST_TEST(got["current_l1"] == 503.0);
}

BOOST_AUTO_TEST_CASE(failed_requests_blank_only_their_values) {
    profile p;
    p.values = {val("a", 0), val("b", 1), val("c", 50)};
    auto plan = plan_reads(p, {});
    BOOST_TEST_REQUIRE(plan.requests.size() == 2U);
    auto res = answer(plan, {{0, 1}, {1, 2}, {50, 3}});
    res[0].ok = false;
    res[0].regs.clear();
    auto d = decode_results(plan, res);
    BOOST_TEST_REQUIRE(d.values.size() == 1U);
    BOOST_TEST(d.values[0].first == "c");
    BOOST_TEST(d.bad_values == 0);
    // a short answer is a bad value, not a crash
    res = answer(plan, {});
    res[0].regs.resize(1);
    d = decode_results(plan, res);
    BOOST_TEST(d.bad_values == 1);
}

BOOST_AUTO_TEST_CASE(nan_counts_as_bad_value) {
    profile p;
    p.values = {val("f", 0, value_type::f32), val("g", 2, value_type::f32)};
    auto plan = plan_reads(p, {});
    auto d = decode_results(plan, answer(plan, {{0, 0x7FC0}, {2, 0x4366}, {3, 0x199A}}));
    BOOST_TEST(d.bad_values == 1);
    BOOST_TEST_REQUIRE(d.values.size() == 1U);
    BOOST_TEST(d.values[0].second == 230.1);
}

BOOST_AUTO_TEST_SUITE_END()
