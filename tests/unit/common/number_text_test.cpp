// format_number takes a short path for values with a few decimals; its text must stay
// byte-for-byte what std::to_chars (shortest round trip) prints, since payloads are a contract.
#include "common/json_writer.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

namespace {

std::string to_chars_text(double v) {
    std::array<char, 64> buf{};
    const double mag = std::fabs(v);
    const auto fmt =
        (mag >= 1e-5 && mag < 1e15) ? std::chars_format::fixed : std::chars_format::general;
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, fmt);
    return {buf.data(), res.ptr};
}

} // namespace

BOOST_AUTO_TEST_SUITE(json_number_short_path)

BOOST_AUTO_TEST_CASE(decimals_and_their_neighbours_print_as_to_chars_does) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> decimals(0, 8);
    std::uniform_int_distribution<std::int64_t> mantissa(-(std::int64_t{1} << 53),
                                                         std::int64_t{1} << 53);
    int mismatches = 0;
    for (int i = 0; i < 200000; ++i) {
        const double d =
            static_cast<double>(mantissa(rng) >> (rng() % 54)) / std::pow(10.0, decimals(rng));
        if (d == 0.0) continue;
        for (const double v : {d, std::nextafter(d, 1e300), std::nextafter(d, -1e300)}) {
            if (mb::common::format_number(v) != to_chars_text(v) && ++mismatches < 10)
                BOOST_TEST(mb::common::format_number(v) == to_chars_text(v));
        }
    }
    BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(edges_of_the_short_path) {
    for (const double v : {1e-5, 0.000012, 0.0000125, 999999999.999999, 1e9, 1e9 + 0.5, 0.1 + 0.2,
                           -230.1, 4294967296.25, 123456.7890123, 0.5, 7.0})
        BOOST_TEST(mb::common::format_number(v) == to_chars_text(v), v);
}

BOOST_AUTO_TEST_SUITE_END()
