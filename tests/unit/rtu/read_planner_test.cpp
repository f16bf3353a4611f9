// Read planner: gaps, limits, overlaps, mixed function codes, the split, and the ratio helpers
// a plan reads (decoded here too; the decoding itself is in poll_decode_test.cpp).
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"
#include "tests/unit/rtu/plan_helpers.hpp"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

using namespace mb::drivers::rtu;
using namespace mb::drivers::rtu::testing;

namespace {

struct span_t {
    function_code fc;
    int address;
    int count;
};

void check_requests(const read_plan& plan, const std::vector<span_t>& want) {
    BOOST_TEST_REQUIRE(plan.requests.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        BOOST_TEST((plan.requests[i].function == want[i].fc), "request " << i);
        BOOST_TEST(plan.requests[i].address == want[i].address, "request " << i);
        BOOST_TEST(plan.requests[i].count == want[i].count, "request " << i);
    }
}

// Every wanted value lies inside a request of its function code, exactly once.
void check_covers(const read_plan& plan) {
    std::vector<int> seen(plan.values.size(), 0);
    for (const auto& r : plan.requests) {
        BOOST_TEST(r.count <= 125);
        for (std::size_t i : r.values) {
            const auto& v = plan.values[i];
            BOOST_TEST((v.function == r.function));
            BOOST_TEST(v.address >= r.address);
            BOOST_TEST(v.address + register_count(v.type) <= r.address + r.count);
            ++seen[i];
        }
    }
    for (int s : seen)
        BOOST_TEST(s == 1);
}

plan_options gap(int g) {
    plan_options o;
    o.max_gap = g;
    return o;
}

plan_options filtered(std::vector<std::string> only, bool pt_override = false) {
    plan_options o;
    o.only = std::move(only);
    o.pt_override = pt_override;
    return o;
}

constexpr auto H = function_code::holding;
constexpr auto I = function_code::input;

} // namespace

BOOST_AUTO_TEST_SUITE(read_planner)

BOOST_AUTO_TEST_CASE(adjacent_values_merge) {
    profile p;
    p.values = {val("a", 20), val("b", 21), val("c", 22, value_type::u32)};
    auto plan = plan_reads(p, {});
    check_requests(plan, {{H, 20, 4}});
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(gaps_up_to_max_gap_are_filled) {
    profile p;
    p.values = {val("a", 10), val("b", 19), val("c", 29)};
    // a ends at 11; b at 19 is a gap of 8: merged. c at 29 is a gap of 9 after b: not merged
    auto plan = plan_reads(p, gap(8));
    check_requests(plan, {{H, 10, 10}, {H, 29, 1}});
    plan = plan_reads(p, gap(9));
    check_requests(plan, {{H, 10, 20}});
    plan = plan_reads(p, gap(0));
    check_requests(plan, {{H, 10, 1}, {H, 19, 1}, {H, 29, 1}});
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(unsorted_profile_order) {
    profile p;
    p.values = {val("c", 30), val("a", 10), val("b", 11)};
    auto plan = plan_reads(p, gap(0));
    check_requests(plan, {{H, 10, 2}, {H, 30, 1}});
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(max_read_limits_a_request) {
    profile p;
    for (int a = 0; a < 300; a += 2)
        p.values.push_back(val("v" + std::to_string(a), a, value_type::u32));
    auto plan = plan_reads(p, {});
    check_requests(plan, {{H, 0, 124}, {H, 124, 124}, {H, 248, 52}});
    check_covers(plan);
    p.max_read = 80;
    plan = plan_reads(p, {});
    check_requests(plan, {{H, 0, 80}, {H, 80, 80}, {H, 160, 80}, {H, 240, 60}});
    p.max_read = 500; // clamped to the protocol's 125
    plan = plan_reads(p, {});
    BOOST_TEST(plan.requests[0].count == 124); // a u32 never straddles two requests
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(overlapping_values) {
    profile p;
    // an f64 at 0..3 and a u16 view of its 2nd register, and bits from one register
    p.values = {val("wide", 0, value_type::f64), val("part", 1), val("di_1", 8, value_type::bits),
                val("di_2", 8, value_type::bits)};
    p.values[3].bit = 1;
    auto plan = plan_reads(p, gap(0));
    check_requests(plan, {{H, 0, 4}, {H, 8, 1}});
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(mixed_function_codes_never_merge) {
    profile p;
    p.values = {val("h1", 0, value_type::u16, H), val("i1", 1, value_type::u16, I),
                val("h2", 2, value_type::u16, H), val("i2", 3, value_type::u16, I)};
    auto plan = plan_reads(p, {});
    check_requests(plan, {{H, 0, 3}, {I, 1, 3}});
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(only_filter_and_ratio_helpers) {
    auto p = secondary_meter(20, 26, 59);
    p.values[2].scale = 0.1;
    p.values[3].scale = 0.01;
    p.values[4].scale = 0.01;
    auto plan = plan_reads(p, filtered({"voltage_*", "current_l?"}));
    // the wanted two, plus the meter's ratios as unpublished helpers
    BOOST_TEST_REQUIRE(plan.values.size() == 4U);
    BOOST_TEST(plan.publish == std::vector<bool>({true, true, false, false}));
    check_covers(plan);
    std::map<int, std::uint16_t> img{{14, 10}, {15, 40}, {20, 2301}, {26, 503}, {59, 5002}};
    auto d = decode_results(plan, answer(plan, img));
    std::map<std::string, double> got(d.values.begin(), d.values.end());
    BOOST_TEST(got.size() == 2U);
    BOOST_TEST(got["voltage_l1"] == 2301.0);
    BOOST_TEST(got["current_l1"] == 201.2);
    // the device override wins and the helper is not read
    plan = plan_reads(p, filtered({"voltage_l1"}, true));
    BOOST_TEST(plan.values.size() == 1U);
    d = decode_results(plan, answer(plan, img), 2.0);
    BOOST_TEST_REQUIRE(d.values.size() == 1U);
    BOOST_TEST(d.values[0].second == 460.2);
    // "primary" profiles are taken as read
    p.secondary = false;
    plan = plan_reads(p, {});
    d = decode_results(plan, answer(plan, img), 2.0, 3.0);
    got = {d.values.begin(), d.values.end()};
    BOOST_TEST(got["voltage_l1"] == 230.1);
    BOOST_TEST(got["current_l1"] == 5.03);
    BOOST_TEST(got["pt_ratio"] == 10.0);
    BOOST_TEST(got["frequency"] == 50.02);
}

BOOST_AUTO_TEST_CASE(refused_request_leaves_the_polls_and_comes_back_later) {
    using namespace std::chrono_literals;
    const read_plan::time_point t0{};
    profile p;
    p.values = {val("a", 0), val("b", 1), val("c", 2), val("d", 40)};
    auto plan = plan_reads(p, {});
    check_requests(plan, {{H, 0, 3}, {H, 40, 1}});
    BOOST_TEST(plan.split(0));
    check_requests(plan, {{H, 0, 1}, {H, 1, 2}, {H, 40, 1}});
    plan.refuse(0, t0); // "a": illegal data address
    check_requests(plan, {{H, 1, 2}, {H, 40, 1}});
    BOOST_TEST_REQUIRE(plan.refused.size() == 1U);
    plan.tick(t0 + 59s);
    check_requests(plan, {{H, 1, 2}, {H, 40, 1}});
    plan.tick(t0 + 60s); // due: back in address order
    check_requests(plan, {{H, 0, 1}, {H, 1, 2}, {H, 40, 1}});
    BOOST_TEST(plan.refused.empty());
    // refused again at once: twice the wait, and so on up to 30 minutes
    auto now = t0 + 60s;
    for (const auto wait : {2min, 4min, 8min, 16min, 30min, 30min}) {
        plan.refuse(0, now);
        BOOST_TEST(plan.refused.back().backoff.count() == std::chrono::milliseconds(wait).count());
        plan.tick(now + wait - 1s);
        BOOST_TEST_REQUIRE(plan.refused.size() == 1U);
        now += wait;
        plan.tick(now);
        BOOST_TEST_REQUIRE(plan.refused.empty());
    }
    // answered once: a later refusal starts again at one minute
    plan.answered(0);
    plan.refuse(0, now);
    BOOST_TEST(plan.refused.back().backoff.count() == std::chrono::milliseconds(1min).count());
    plan.refuse(7, now); // out of range: nothing happens
    BOOST_TEST(plan.refused.size() == 1U);
}

BOOST_AUTO_TEST_CASE(static_values_are_read_apart_from_the_others) {
    profile p;
    // ratios at 14, 15 next to the voltages at 20..22: coalesced apart all the same
    p.values = {val("pt_ratio", 14),   val("ct_ratio", 15),   val("voltage_l1", 20),
                val("voltage_l2", 21), val("voltage_l3", 22), val("serial", 100, value_type::u32)};
    for (auto i : {0, 1, 5})
        p.values[static_cast<std::size_t>(i)].is_static = true;
    auto plan = plan_reads(p, {});
    check_requests(plan, {{H, 14, 2}, {H, 20, 3}, {H, 100, 2}});
    BOOST_TEST(plan.requests[0].is_static);
    BOOST_TEST(!plan.requests[1].is_static);
    BOOST_TEST(plan.requests[2].is_static);
    BOOST_TEST(plan.has_static());
    BOOST_TEST(plan.split(0));
    BOOST_TEST((plan.requests[0].is_static && plan.requests[1].is_static), "halves stay static");
    // nothing but static values wanted: read on every poll, since nothing else would be
    plan_options only_ratios;
    only_ratios.only = {"*_ratio"};
    const auto ratios = plan_reads(p, only_ratios);
    check_requests(ratios, {{H, 14, 2}});
    BOOST_TEST(!ratios.has_static());
}

BOOST_AUTO_TEST_CASE(split_down_to_single_values) {
    profile p;
    p.values = {val("a", 0), val("b", 1), val("c", 2, value_type::u32), val("d", 10), val("e", 12)};
    auto plan = plan_reads(p, {});
    check_requests(plan, {{H, 0, 13}});
    BOOST_TEST(plan.split(0));
    // halves: {a, b} and {c, d, e}; each re-coalesced without gaps
    check_requests(plan, {{H, 0, 2}, {H, 2, 2}, {H, 10, 1}, {H, 12, 1}});
    check_covers(plan);
    BOOST_TEST(plan.split(0));
    check_requests(plan, {{H, 0, 1}, {H, 1, 1}, {H, 2, 2}, {H, 10, 1}, {H, 12, 1}});
    BOOST_TEST(!plan.split(0)); // one value: nothing left to split
    BOOST_TEST(!plan.split(99));
    check_covers(plan);
}

BOOST_AUTO_TEST_CASE(globs) {
    BOOST_TEST(glob_match("voltage_*", "voltage_l1"));
    BOOST_TEST(!glob_match("voltage_*", "current_l1"));
    BOOST_TEST(glob_match("energy_*_total", "energy_import_total"));
    BOOST_TEST(glob_match("di_[12]", "di_2"));
    BOOST_TEST(!glob_match("di_[12]", "di_3"));
    BOOST_TEST(glob_match("*", "x"));
}

BOOST_AUTO_TEST_SUITE_END()
