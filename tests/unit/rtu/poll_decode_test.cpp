// Decoding a poll's answers: failed requests blank only their values, PT/CT ratios of
// secondary profiles (read, remembered, overridden, missing), NaN counted as a bad value.
#include "drivers/modbus_rtu/poll_decode.hpp"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

using namespace mb::drivers::rtu;

namespace {

value_def val(std::string name, int address, value_type t = value_type::u16) {
    value_def v;
    v.name = std::move(name);
    v.address = static_cast<std::uint16_t>(address);
    v.type = t;
    return v;
}

// A register image: answers each request from it.
std::vector<request_result> answer(const read_plan& plan, const std::map<int, std::uint16_t>& img) {
    std::vector<request_result> out;
    for (const auto& r : plan.requests) {
        request_result rr{r, {}, true};
        for (int a = r.address; a < r.address + r.count; ++a) {
            auto it = img.find(a);
            rr.regs.push_back(it == img.end() ? 0 : it->second);
        }
        out.push_back(std::move(rr));
    }
    return out;
}

} // namespace

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
    profile p;
    p.secondary = true;
    p.values = {val("pt_ratio", 14), val("ct_ratio", 15), val("voltage_l1", 50),
                val("current_l1", 51), val("frequency", 52)};
    p.values[2].ratio = ratio_kind::pt;
    p.values[3].ratio = ratio_kind::ct;
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
