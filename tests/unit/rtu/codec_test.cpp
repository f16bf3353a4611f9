// Register codec: exact raw -> value cases for every type, word order, scale and bit.
#include "drivers/modbus_rtu/codec.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

using namespace mb::drivers::rtu;
using regs = std::vector<std::uint16_t>;

namespace {
constexpr auto hi = word_order::high_first;
constexpr auto lo = word_order::low_first;

double raw(const regs& r, value_type t, word_order o = hi, int bit = 0) {
    auto v = decode_raw(r, t, o, bit);
    BOOST_REQUIRE(v.has_value());
    return *v;
}

value_def def(value_type t, double scale = 1.0) {
    value_def d;
    d.name = "x";
    d.type = t;
    d.scale = scale;
    return d;
}

// The double a decimal text parses to: the oracle for clean decimals.
double parse(const std::string& s) {
    return std::strtod(s.c_str(), nullptr);
}
} // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(sixteen_bit) {
    BOOST_TEST(raw({0x08FD}, value_type::u16) == 2301.0);
    BOOST_TEST(raw({0xFFFF}, value_type::u16) == 65535.0);
    BOOST_TEST(raw({0xFFFF}, value_type::i16) == -1.0);
    BOOST_TEST(raw({0x8000}, value_type::i16) == -32768.0);
    BOOST_TEST(raw({0x7FFF}, value_type::i16) == 32767.0);
    BOOST_TEST(raw({0xFF9C}, value_type::i16) == -100.0);
}

BOOST_AUTO_TEST_CASE(thirty_two_bit_word_orders) {
    // 0x00012345 = 74565
    BOOST_TEST(raw({0x0001, 0x2345}, value_type::u32, hi) == 74565.0);
    BOOST_TEST(raw({0x2345, 0x0001}, value_type::u32, lo) == 74565.0);
    BOOST_TEST(raw({0x2345, 0x0001}, value_type::u32, hi) == 591724545.0); // 0x23450001
    BOOST_TEST(raw({0xFFFF, 0xFFFF}, value_type::u32) == 4294967295.0);
    // -1234 = 0xFFFFFB2E: the sign lives in the high word, wherever it sits.
    BOOST_TEST(raw({0xFFFF, 0xFB2E}, value_type::i32, hi) == -1234.0);
    BOOST_TEST(raw({0xFB2E, 0xFFFF}, value_type::i32, lo) == -1234.0);
    // -65536 = 0xFFFF0000: low word zero, negative across both words
    BOOST_TEST(raw({0xFFFF, 0x0000}, value_type::i32, hi) == -65536.0);
    BOOST_TEST(raw({0x0000, 0xFFFF}, value_type::i32, lo) == -65536.0);
    BOOST_TEST(raw({0x8000, 0x0000}, value_type::i32, hi) == -2147483648.0);
    BOOST_TEST(raw({0x7FFF, 0xFFFF}, value_type::i32, hi) == 2147483647.0);
    // a low word with its top bit set is not a sign: 0x00008000 = 32768
    BOOST_TEST(raw({0x0000, 0x8000}, value_type::i32, hi) == 32768.0);
}

BOOST_AUTO_TEST_CASE(sixty_four_bit_word_orders) {
    BOOST_TEST(raw({0x0000, 0x0001, 0x0002, 0x0003}, value_type::u64, hi) == 4295098371.0);
    BOOST_TEST(raw({0x0003, 0x0002, 0x0001, 0x0000}, value_type::u64, lo) == 4295098371.0);
    BOOST_TEST(raw({0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, value_type::i64, hi) == -2.0);
    BOOST_TEST(raw({0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF}, value_type::i64, lo) == -2.0);
    BOOST_TEST(raw({0x0010, 0, 0, 0}, value_type::u64, hi) == 4503599627370496.0); // 2^52
}

BOOST_AUTO_TEST_CASE(floats) {
    // 230.1f = 0x4366199A
    BOOST_TEST(raw({0x4366, 0x199A}, value_type::f32, hi) == 230.1);
    BOOST_TEST(raw({0x199A, 0x4366}, value_type::f32, lo) == 230.1);
    BOOST_TEST(raw({0xC148, 0x0000}, value_type::f32) == -12.5);
    BOOST_TEST(raw({0x0000, 0x0000}, value_type::f32) == 0.0);
    // 50.02f = 0x4248147B: published as 50.02, not 50.02000045776367
    BOOST_TEST(raw({0x4248, 0x147B}, value_type::f32) == 50.02);
    // 12345.678 as f64 = 0x40C81CD6C8B43958
    BOOST_TEST(raw({0x40C8, 0x1CD6, 0xC8B4, 0x3958}, value_type::f64, hi) == 12345.678);
    BOOST_TEST(raw({0x3958, 0xC8B4, 0x1CD6, 0x40C8}, value_type::f64, lo) == 12345.678);
}

BOOST_AUTO_TEST_CASE(nan_and_infinity_are_dropped) {
    auto f32 = def(value_type::f32);
    auto f64 = def(value_type::f64);
    BOOST_TEST(std::isnan(raw({0x7FC0, 0x0000}, value_type::f32)));
    BOOST_TEST(!decode_value(regs{0x7FC0, 0x0000}, f32, hi).has_value()); // NaN
    BOOST_TEST(!decode_value(regs{0x7F80, 0x0000}, f32, hi).has_value()); // +inf
    BOOST_TEST(!decode_value(regs{0xFF80, 0x0000}, f32, hi).has_value()); // -inf
    BOOST_TEST(!decode_value(regs{0x0000, 0x7FC0}, f32, lo).has_value()); // NaN, swapped
    BOOST_TEST(!decode_value(regs{0x7FF8, 0, 0, 0}, f64, hi).has_value());
    BOOST_TEST(!decode_value(regs{0x7FF0, 0, 0, 0}, f64, hi).has_value());
    // a finite float times a huge scale overflows to infinity: dropped too
    auto big = def(value_type::f64, 1e300);
    BOOST_TEST(!decode_value(regs{0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF}, big, hi).has_value());
}

BOOST_AUTO_TEST_CASE(short_input_is_refused) {
    BOOST_TEST(!decode_raw(regs{0x0001}, value_type::u32, hi).has_value());
    BOOST_TEST(!decode_raw(regs{}, value_type::u16, hi).has_value());
    BOOST_TEST(!decode_raw(regs{1, 2, 3}, value_type::f64, hi).has_value());
    BOOST_TEST(!decode_raw(regs{1, 2}, value_type::u16, hi).has_value());
}

BOOST_AUTO_TEST_CASE(bits) {
    const regs r{0b1010'0000'0000'0101};
    BOOST_TEST(raw(r, value_type::bits, hi, 0) == 1.0);
    BOOST_TEST(raw(r, value_type::bits, hi, 1) == 0.0);
    BOOST_TEST(raw(r, value_type::bits, hi, 2) == 1.0);
    BOOST_TEST(raw(r, value_type::bits, hi, 3) == 0.0);
    BOOST_TEST(raw(r, value_type::bits, hi, 13) == 1.0);
    BOOST_TEST(raw(r, value_type::bits, hi, 15) == 1.0);
    BOOST_TEST(raw(r, value_type::bits, hi, 14) == 0.0);
    BOOST_TEST(!decode_raw(r, value_type::bits, hi, 16).has_value());
    BOOST_TEST(!decode_raw(r, value_type::bits, hi, -1).has_value());
}

BOOST_AUTO_TEST_CASE(scales_give_clean_decimals) {
    BOOST_TEST(scale_clean(2301, 0.1) == 230.1);
    BOOST_TEST(2301 * 0.1 != 230.1); // why the codec exists: the naive product is off
    BOOST_TEST(scale_clean(503, 0.01) == 5.03);
    BOOST_TEST(scale_clean(1234567, 0.01) == 12345.67);
    BOOST_TEST(scale_clean(-1, 0.001) == -0.001);
    BOOST_TEST(scale_clean(3456, 1.0) == 3456.0);
    BOOST_TEST(scale_clean(3, 1000.0) == 3000.0);
    BOOST_TEST(scale_clean(7, 0.5) == 3.5);
    BOOST_TEST(scale_clean(3, 0.25) == 0.75);
    BOOST_TEST(scale_clean(1001, 2.5) == 2502.5);
    BOOST_TEST(scale_clean(33, 0.3) == 9.9);
    BOOST_TEST(scale_clean(0, 0.1) == 0.0);
    // every raw value a 16-bit register holds, every decimal scale a profile uses, signed too:
    // the result is exactly the double its decimal text parses to
    for (int k = 1; k <= 6; ++k) {
        const double scale = std::strtod(("1e-" + std::to_string(k)).c_str(), nullptr);
        for (long r = -70000; r <= 70000; ++r) {
            const double want = parse(std::to_string(r) + "e-" + std::to_string(k));
            if (scale_clean(static_cast<double>(r), scale) != want) {
                BOOST_ERROR("raw " << r << " x 1e-" << k);
                return;
            }
        }
    }
    // and large 32-bit energies (std::int64_t: a long is 32 bits on armhf, where this loop
    // ran no iteration)
    for (std::int64_t r = 4294967295; r > 4294000000; r -= 997) {
        const double want = parse(std::to_string(r) + "e-2");
        BOOST_REQUIRE(scale_clean(static_cast<double>(r), 0.01) == want);
    }
}

BOOST_AUTO_TEST_CASE(scale_with_ratios) {
    // 0.01 A x CT 40 = 0.4 per digit: 503 -> 201.2 A
    BOOST_TEST(scale_clean(503, 0.01 * 40) == 201.2);
    BOOST_TEST(ratio_factor(ratio_kind::pt, 10, 40) == 10.0);
    BOOST_TEST(ratio_factor(ratio_kind::ct, 10, 40) == 40.0);
    BOOST_TEST(ratio_factor(ratio_kind::ptct, 10, 40) == 400.0);
    BOOST_TEST(ratio_factor(ratio_kind::none, 10, 40) == 1.0);
    auto v = def(value_type::u16, 0.1);
    BOOST_TEST(*decode_value(regs{2301}, v, hi, 10.0) == 2301.0);
    BOOST_TEST(*decode_value(regs{2301}, v, hi, 1.0) == 230.1);
    auto p = def(value_type::i32, 1.0);
    BOOST_TEST(*decode_value(regs{0xFFFF, 0xFB2E}, p, hi, 400.0) == -493600.0);
    BOOST_TEST(*decode_value(regs{0xFB2E, 0xFFFF}, p, lo, 400.0) == -493600.0);
}

BOOST_AUTO_TEST_CASE(encode_round_trips) {
    for (auto order : {hi, lo}) {
        for (auto t : {value_type::u16, value_type::i16, value_type::u32, value_type::i32,
                       value_type::u64, value_type::i64, value_type::f32, value_type::f64}) {
            for (double scale : {1.0, 0.1, 0.01, 0.001, 10.0}) {
                const auto d = def(t, scale);
                for (double v : {0.0, 1.0, 123.0, 230.1, 5.03, 1000.0}) {
                    if (scale == 10.0 && std::fmod(v, 10.0) != 0.0) continue;
                    if (scale >= 0.1 && v == 5.03) continue;
                    const bool narrow = t == value_type::u16 || t == value_type::i16;
                    if (narrow && v / scale > 30000) continue;
                    if (scale == 1.0 && v == 230.1 && t != value_type::f32 && t != value_type::f64)
                        continue;
                    auto e = encode_value(v, d, order);
                    BOOST_TEST_REQUIRE(e.ok(), to_string(t) << " " << v << " " << e.error);
                    auto back = decode_value(e.regs, d, order);
                    BOOST_REQUIRE(back.has_value());
                    BOOST_TEST(*back == v, to_string(t) << " scale " << scale << " " << v);
                }
            }
        }
    }
    // negative i32 lands in both words in the right order
    auto e = encode_value(-1234, def(value_type::i32), hi);
    BOOST_TEST(e.regs == regs({0xFFFF, 0xFB2E}), boost::test_tools::per_element());
    e = encode_value(-1234, def(value_type::i32), lo);
    BOOST_TEST(e.regs == regs({0xFB2E, 0xFFFF}), boost::test_tools::per_element());
    e = encode_value(230.1, def(value_type::u16, 0.1), hi);
    BOOST_TEST(e.regs == regs({2301}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(encode_refuses) {
    BOOST_TEST(!encode_value(65536, def(value_type::u16), hi).ok());
    BOOST_TEST(!encode_value(-1, def(value_type::u16), hi).ok());
    BOOST_TEST(!encode_value(32768, def(value_type::i16), hi).ok());
    BOOST_TEST(encode_value(-32768, def(value_type::i16), hi).ok());
    BOOST_TEST(!encode_value(4294967296.0, def(value_type::u32), hi).ok());
    BOOST_TEST(!encode_value(2147483648.0, def(value_type::i32), hi).ok());
    BOOST_TEST(!encode_value(0.5, def(value_type::u16), hi).ok());
    BOOST_TEST(!encode_value(230.15, def(value_type::u16, 0.1), hi).ok());
    BOOST_TEST(!encode_value(6553.6, def(value_type::u16, 0.1), hi).ok());
    BOOST_TEST(encode_value(6553.5, def(value_type::u16, 0.1), hi).ok());
    BOOST_TEST(!encode_value(std::nan(""), def(value_type::f32), hi).ok());
    BOOST_TEST(!encode_value(1e39, def(value_type::f32), hi).ok());
    BOOST_TEST(!encode_value(1, def(value_type::bits), hi).ok());
    BOOST_TEST(
        !encode_value(std::numeric_limits<double>::infinity(), def(value_type::f64), hi).ok());
}

BOOST_AUTO_TEST_SUITE_END()
