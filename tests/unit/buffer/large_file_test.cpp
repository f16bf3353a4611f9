// A buffer file over 2 GiB (a max_size of a few GiB on a box with a large SD card). On a
// 32-bit system (armhf) a plain stat() of such a file fails with EOVERFLOW unless the build
// asks for 64-bit file offsets (_FILE_OFFSET_BITS=64, CMakeLists.txt): the store took the
// file it had just written for deleted and rebuilt it. Run by scripts/test --arch armhf; on a
// 64-bit system it passes either way.
#include "buffer/store.hpp"
#include "tests/unit/buffer/temp_buffer.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <unistd.h>
#include <variant>

namespace {

mb::buffer::flush_batch readings(std::uint64_t from, std::uint64_t to) {
    mb::buffer::flush_batch b;
    for (auto seq = from; seq <= to; ++seq) {
        mb::model::reading r;
        r.device = "a";
        r.seq = seq;
        r.ts_ms = 1'764'095'000'000 + std::int64_t(seq);
        r.values = {{"voltage_l1", 230.5}};
        b.inserts.emplace_back(r);
    }
    return b;
}

} // namespace

BOOST_AUTO_TEST_SUITE(buffer_large_file)

BOOST_AUTO_TEST_CASE(a_file_grown_past_2_gib_is_still_the_store_s_own_and_its_size_counts) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    mb::buffer::store st(s);
    st.open(0);
    st.write(readings(1, 50));
    st.note_file();
    // The file grows past 2^31 bytes, sparsely (no disk used): truncate64 whatever the build's
    // off_t, so that the set-up does not depend on the fix it tests. SQLite reads the pages its
    // header counts and ignores what lies past them.
    constexpr std::uint64_t big = (3ULL << 30U) + 4096;
    BOOST_REQUIRE(::truncate64(s.path.c_str(), static_cast<off64_t>(big)) == 0);

    BOOST_CHECK_NO_THROW(st.check_file()); // not "was deleted"
    BOOST_TEST(st.figures().file_bytes >= big);
    st.write(readings(51, 60));
    BOOST_CHECK_NO_THROW(st.check_file());
    const auto rows = st.read_after(0, 100);
    BOOST_REQUIRE(rows.size() == 60U);
    BOOST_TEST(std::get<mb::model::reading>(rows.back().what).seq == 60U);
}

BOOST_AUTO_TEST_SUITE_END()
