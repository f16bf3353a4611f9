// The limits' decisions on the file's figures, without a file (buffer/limits, gap_runs); what
// the store does with them on a real file: store_test.
#include "buffer/gap_runs.hpp"
#include "buffer/limits.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

using mb::buffer::drop_pick;
using mb::buffer::gap_runs;
using mb::buffer::limit_row;
using mb::buffer::limits;
using mb::buffer::seq_run;

namespace {

constexpr std::int64_t page = 4096;
constexpr std::uint64_t schema = 12 * page; // an empty file's pages, and one spare

limits sized(std::uint64_t max_size) {
    return {max_size, std::chrono::hours(1), page};
}

limit_row row(std::int64_t id, std::int64_t device, std::uint64_t seq, std::int64_t ts,
              std::int64_t received = 0) {
    return {id, device, seq, ts, received};
}

std::vector<std::int64_t> ids_of(const std::vector<limit_row>& rows) {
    std::vector<std::int64_t> out;
    out.reserve(rows.size());
    for (const auto& r : rows)
        out.push_back(r.id);
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(buffer_limits)

BOOST_AUTO_TEST_CASE(the_wal_budget_is_an_eighth_of_max_size_within_2_to_1000_pages) {
    BOOST_TEST(sized(64U << 10U).wal_pages() == 2);       // an eighth: 2 pages
    BOOST_TEST(sized(16U << 10U).wal_pages() == 2);       // under 2: 2
    BOOST_TEST(sized(4U << 20U).wal_pages() == 128);      // 512 KiB
    BOOST_TEST(sized(256ULL << 20U).wal_pages() == 1000); // 32 MiB: capped
    BOOST_TEST(sized(4U << 20U).wal_budget() == 128U * page);
    BOOST_TEST(sized(4U << 20U).schema_bytes() == schema);
}

BOOST_AUTO_TEST_CASE(max_age_drops_what_was_received_longer_ago_than_it) {
    const limits l(1U << 20U, std::chrono::milliseconds(1'000), page);
    BOOST_TEST(l.age_cutoff(5'000) == 4'000);
    BOOST_TEST(l.age_cutoff(500) == -500);
}

// 64 KiB: the WAL's 2 pages and the schema's 12 leave 8 KiB for the data. Dropping starts
// past seven eighths of it (7 KiB) and goes on down to three quarters (6 KiB).
BOOST_AUTO_TEST_CASE(max_size_starts_past_seven_eighths_of_the_room_and_stops_at_three_quarters) {
    const auto l = sized(64U << 10U);
    const std::uint64_t small_file = 60U << 10U;
    BOOST_TEST(!l.over_size(schema + 7168, small_file));
    BOOST_TEST(l.over_size(schema + 7169, small_file));
    BOOST_TEST(l.above_target(schema + 6145));
    BOOST_TEST(!l.above_target(schema + 6144));
    BOOST_TEST(!l.above_target(schema));
}

BOOST_AUTO_TEST_CASE(a_file_on_disk_past_max_size_starts_dropping_whatever_its_pages_in_use) {
    const auto l = sized(64U << 10U);
    BOOST_TEST(!l.over_size(schema, 64U << 10U));
    BOOST_TEST(l.over_size(schema, (64U << 10U) + 1));
}

BOOST_AUTO_TEST_CASE(a_max_size_below_the_schema_and_the_wal_leaves_one_page_of_room) {
    const auto l = sized(16U << 10U);
    // room: one page; seven eighths of it 3584 bytes, three quarters 3072
    BOOST_TEST(!l.over_size(schema + 3584, 16U << 10U));
    BOOST_TEST(l.over_size(schema + 3585, 16U << 10U));
    BOOST_TEST(l.above_target(schema + 3073));
    BOOST_TEST(!l.above_target(schema + 3072));
}

BOOST_AUTO_TEST_CASE(a_max_size_step_drops_as_many_rows_as_half_the_wal_budget_holds) {
    const auto l = sized(4U << 20U); // WAL budget 512 KiB
    // 100 bytes a row: 262144 / 100
    BOOST_TEST(l.size_step(100'000, 1'000) == 2621U);
    // rows larger than half the budget: one at a time
    BOOST_TEST(l.size_step(1U << 30U, 1) == 1U);
    // no reading counted (only gaps left): the bytes in use as one row
    BOOST_TEST(l.size_step(1'000, 0) == 262U);
    // less than a byte a row counts as one byte
    BOOST_TEST(l.size_step(10, 1'000) == 256U * 1024U);
}

BOOST_AUTO_TEST_CASE(a_max_age_drop_ends_at_the_first_reading_young_enough) {
    const std::vector<std::int64_t> keep;
    drop_pick pick(1'000, keep);
    BOOST_TEST(pick.offer(row(1, 1, 1, 0, 10)));
    BOOST_TEST(pick.offer(row(2, 1, 2, 0, 999)));
    BOOST_TEST(!pick.offer(row(3, 1, 3, 0, 1'000)));
    // (the store stops reading there: an older one after it stays too)
    const std::vector<std::int64_t> expect{1, 2};
    BOOST_TEST(ids_of(pick.rows()) == expect, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_drop_leaves_alone_the_rows_in_flight) {
    const std::vector<std::int64_t> keep{2, 4};
    drop_pick pick(std::numeric_limits<std::int64_t>::max(), keep);
    for (std::int64_t id = 1; id <= 5; ++id)
        BOOST_TEST(pick.offer(row(id, 1, static_cast<std::uint64_t>(id), 0, 1'000'000)));
    const std::vector<std::int64_t> expect{1, 3, 5};
    BOOST_TEST(ids_of(pick.rows()) == expect, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_row_in_flight_that_is_young_enough_still_ends_the_drop) {
    const std::vector<std::int64_t> keep{2};
    drop_pick pick(1'000, keep);
    BOOST_TEST(pick.offer(row(1, 1, 1, 0, 0)));
    BOOST_TEST(!pick.offer(row(2, 1, 2, 0, 2'000)));
    BOOST_TEST(pick.rows().size() == 1U);
}

BOOST_AUTO_TEST_CASE(consecutive_seqs_of_a_device_make_one_run_with_their_first_and_last_ts) {
    gap_runs runs;
    BOOST_TEST(!runs.add(row(1, 7, 3, 30)).has_value());
    BOOST_TEST(!runs.add(row(2, 7, 4, 40)).has_value());
    BOOST_TEST(!runs.add(row(3, 7, 5, 50)).has_value());
    const std::vector<seq_run> expect{{7, 3, 5, 30, 50}};
    BOOST_TEST((runs.open_runs() == expect));
    BOOST_TEST(runs.per_device().at(7) == 3U);
}

BOOST_AUTO_TEST_CASE(a_run_keeps_from_ts_before_to_ts_when_the_clock_stepped_back) {
    gap_runs runs;
    (void)runs.add(row(1, 1, 1, 500));
    (void)runs.add(row(2, 1, 2, 100)); // the clock stepped back
    (void)runs.add(row(3, 1, 3, 300));
    const std::vector<seq_run> expect{{1, 1, 3, 100, 500}};
    BOOST_TEST((runs.open_runs() == expect));
}

BOOST_AUTO_TEST_CASE(a_seq_that_does_not_continue_its_device_s_run_completes_that_run) {
    gap_runs runs;
    (void)runs.add(row(1, 1, 3, 30));
    (void)runs.add(row(2, 1, 4, 40));
    // seq 5 stays (in flight): 6 starts a new run and hands back 3..4
    const auto done = runs.add(row(4, 1, 6, 60));
    BOOST_REQUIRE(done.has_value());
    BOOST_TEST((*done == seq_run{1, 3, 4, 30, 40}));
    const std::vector<seq_run> expect{{1, 6, 6, 60, 60}};
    BOOST_TEST((runs.open_runs() == expect));
    BOOST_TEST(runs.per_device().at(1) == 3U);
}

BOOST_AUTO_TEST_CASE(interleaved_devices_keep_a_run_each_handed_back_by_device_number) {
    gap_runs runs;
    BOOST_TEST(!runs.add(row(1, 9, 10, 1)).has_value());
    BOOST_TEST(!runs.add(row(2, 2, 20, 2)).has_value());
    BOOST_TEST(!runs.add(row(3, 9, 11, 3)).has_value());
    BOOST_TEST(!runs.add(row(4, 2, 21, 4)).has_value());
    BOOST_TEST(!runs.add(row(5, 9, 12, 5)).has_value());
    const std::vector<seq_run> expect{{2, 20, 21, 2, 4}, {9, 10, 12, 1, 5}};
    BOOST_TEST((runs.open_runs() == expect));
    BOOST_TEST(runs.per_device().at(2) == 2U);
    BOOST_TEST(runs.per_device().at(9) == 3U);
    BOOST_TEST(runs.per_device().size() == 2U);
}

BOOST_AUTO_TEST_SUITE_END()
