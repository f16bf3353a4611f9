// seq and ts are 64-bit integers end to end, on 32-bit systems (armhf: long, size_t and
// time_t are 32 bits there) as on 64-bit ones: a seq past 2^32 and a ts past 2038 (and past
// 2^32 ms, which every ts since 1970-02-19 is) go into the buffer file, come back, continue
// after a restart and are published digit for digit. scripts/test --arch armhf runs it.
#include "bridge/payloads.hpp"
#include "buffer/store.hpp"
#include "tests/unit/buffer/temp_buffer.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <variant>

namespace {

constexpr std::uint64_t wide_seq = (1ULL << 33U) + 5;     // 8589934597
constexpr std::int64_t after_2038_ms = 4'102'444'800'123; // 2100-01-01T00:00:00.123Z

mb::model::reading wide_reading(std::uint64_t seq) {
    mb::model::reading r;
    r.device = "a";
    r.seq = seq;
    r.ts_ms = after_2038_ms;
    r.values = {{"energy_import_total", 123456789.25}};
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(buffer_wide_numbers)

BOOST_AUTO_TEST_CASE(a_seq_past_2_pow_32_and_a_ts_past_2038_come_back_and_continue) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    {
        mb::buffer::store st(s);
        st.open(after_2038_ms);
        mb::buffer::flush_batch b;
        b.inserts.emplace_back(wide_reading(wide_seq));
        st.write(b);
        const auto rows = st.read_after(0, 10);
        BOOST_REQUIRE(rows.size() == 1U);
        const auto& r = std::get<mb::model::reading>(rows.front().what);
        BOOST_TEST(r.seq == wide_seq);
        BOOST_TEST(r.ts_ms == after_2038_ms);
        st.close_clean({{"a", wide_seq}});
    }
    mb::buffer::store again(s);
    const auto opened = again.open(after_2038_ms);
    BOOST_TEST(opened.devices.at("a").last == wide_seq); // seq goes on from here, not from 5
}

BOOST_AUTO_TEST_CASE(payloads_print_them_digit_for_digit) {
    const auto text = mb::bridge::reading_payload(wide_reading(wide_seq));
    BOOST_TEST(text.find(R"("ts":4102444800123,"seq":8589934597,)") != std::string::npos, text);
    mb::model::gap g;
    g.device = "a";
    g.reason = mb::model::gap_reason::max_size;
    g.from_seq = wide_seq;
    g.to_seq = wide_seq + (1ULL << 32U);
    g.from_ts = after_2038_ms;
    g.to_ts = after_2038_ms + 1;
    BOOST_TEST(mb::bridge::gap_payload(g) ==
                   R"({"reason":"max_size","from_seq":8589934597,"to_seq":12884901893,)"
                   R"("from_ts":4102444800123,"to_ts":4102444800124})",
               mb::bridge::gap_payload(g));
}

BOOST_AUTO_TEST_SUITE_END()
