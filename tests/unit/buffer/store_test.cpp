// The buffer file itself (buffer/store): files made at each schema version from 1 up open
// and are brought up to date; an unusable file (not a database, a newer schema, a corrupt
// page) is moved aside to <path>.corrupt-<UTC stamp> and a fresh one works; a directory that
// cannot be made is an error naming it; restart gaps after an unclean stop, none after a
// clean one; max_age and max_size drop the oldest rows as gaps, never those loaded for replay
// or in flight.
#include "buffer/schema.hpp"
#include "buffer/sqlite_handle.hpp"
#include "buffer/store.hpp"
#include "tests/unit/buffer/temp_buffer.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <sys/stat.h>
#include <tuple>
#include <vector>

namespace fs = std::filesystem;
namespace model = mb::model;
using mb::buffer::flush_batch;
using mb::buffer::item;
using mb::buffer::open_sqlite;
using mb::buffer::query_int;
using mb::buffer::store;
using mb::buffer::stored_item;

namespace {

model::reading reading_of(const std::string& device, std::uint64_t seq, std::int64_t ts) {
    model::reading r;
    r.device = device;
    r.seq = seq;
    r.ts_ms = ts;
    r.values = {{"energy_import_total", 1234.5 + double(seq)}, {"voltage_l1", -0.25}};
    return r;
}

// Readings `from`..`to` of `device`, each at `ts`, or at its own seq (in ms) when ts is not
// given.
flush_batch batch_of(const std::string& device, std::uint64_t from, std::uint64_t to,
                     std::optional<std::int64_t> ts = std::nullopt) {
    flush_batch b;
    for (auto seq = from; seq <= to; ++seq)
        b.inserts.emplace_back(reading_of(device, seq, ts.value_or(std::int64_t(seq))));
    return b;
}

// The first `limit` rows, split: the seqs of the readings and the gaps, each in order.
struct split_rows {
    std::vector<std::uint64_t> kept;
    std::vector<model::gap> gaps;
};
split_rows read_split(store& st, std::size_t limit) {
    split_rows out;
    for (const auto& row : st.read_after(0, limit)) {
        if (const auto* r = std::get_if<model::reading>(&row.what)) out.kept.push_back(r->seq);
        if (const auto* g = std::get_if<model::gap>(&row.what)) out.gaps.push_back(*g);
    }
    return out;
}

std::string bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

std::int64_t look(const fs::path& db, const char* sql) {
    const auto h = open_sqlite(db, SQLITE_OPEN_READONLY);
    return query_int(h.get(), sql);
}

// A fresh store on `s` works: a reading goes in and comes back whole.
void check_works(store& st) {
    flush_batch b;
    b.inserts.emplace_back(reading_of("probe", 7, 1'000));
    const auto ids = st.write(b);
    BOOST_REQUIRE(ids.size() == 1U);
    const auto rows = st.read_after(ids[0] - 1, 10);
    BOOST_REQUIRE(rows.size() == 1U);
    const auto* r = std::get_if<model::reading>(&rows[0].what);
    BOOST_REQUIRE(r != nullptr);
    BOOST_TEST(r->device == "probe");
    BOOST_TEST(r->seq == 7U);
    BOOST_TEST(r->ts_ms == 1'000);
    BOOST_TEST((r->values == reading_of("probe", 7, 1'000).values));
}

// What open() said about an unusable file it moved aside.
void check_moved_aside(const mb::buffer::open_report& report, const fs::path& path) {
    const auto prefix = path.string() + ".corrupt-";
    BOOST_TEST(report.moved_aside.starts_with(prefix), report.moved_aside);
    const auto stamp =
        report.moved_aside.substr(std::min(prefix.size(), report.moved_aside.size()));
    BOOST_TEST(std::regex_match(stamp, std::regex(R"(\d{8}T\d{6}Z)")), stamp); // UTC
    BOOST_TEST(fs::exists(report.moved_aside));
    BOOST_TEST(!report.why_moved.empty());
}

} // namespace

BOOST_AUTO_TEST_SUITE(buffer_store)

BOOST_AUTO_TEST_CASE(a_file_made_at_each_schema_version_from_1_opens_and_is_brought_up_to_date) {
    for (int version = 1; version <= mb::buffer::schema_version; ++version) {
        BOOST_TEST_CONTEXT("a file at schema version " << version) {
            mbtest::temp_dir dir;
            const auto s = mbtest::settings_in(dir);
            {
                const auto db = open_sqlite(s.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
                mb::buffer::migrate_to(db.get(), 1);
                // What version 1 holds: a device's seq state and a stored max_age gap.
                mb::buffer::exec(db.get(),
                                 "INSERT INTO devices(name, reserved_from, reserved_to, "
                                 "reserved_ts, last_seq, dropped) VALUES ('a', 1, 10, 5, 10, 2);"
                                 "INSERT INTO items(device, seq, ts, kind, reason, to_seq, to_ts) "
                                 "VALUES (1, 3, 100, 1, 1, 4, 200)");
                mb::buffer::migrate_to(db.get(), version);
                BOOST_REQUIRE(query_int(db.get(), "PRAGMA user_version") == version);
            }
            store st(s);
            const auto report = st.open(1'000);
            BOOST_TEST(report.moved_aside.empty());
            BOOST_TEST(!report.unclean); // version 1 starts a file as cleanly closed
            BOOST_REQUIRE(report.devices.contains("a"));
            BOOST_TEST(report.devices.at("a").last == 10U);
            BOOST_TEST(report.devices.at("a").dropped == 2U);
            BOOST_TEST(look(s.path, "PRAGMA user_version") == mb::buffer::schema_version);
            const auto h = open_sqlite(s.path, SQLITE_OPEN_READONLY);
            mb::buffer::statement mode(h.get(), "PRAGMA journal_mode");
            BOOST_REQUIRE(mode.step());
            BOOST_TEST(mode.text(0) == "wal");
            mode.reset();

            const auto rows = st.read_after(0, 10);
            BOOST_REQUIRE(rows.size() == 1U);
            const auto* g = std::get_if<model::gap>(&rows[0].what);
            BOOST_REQUIRE(g != nullptr);
            BOOST_TEST(g->device == "a");
            BOOST_TEST(model::reason_name(g->reason) == "max_age");
            BOOST_TEST(g->from_seq == 3U);
            BOOST_TEST(g->to_seq == 4U);
            BOOST_TEST(g->from_ts == 100);
            BOOST_TEST(g->to_ts == 200);
            check_works(st);
        }
    }
}

BOOST_AUTO_TEST_CASE(an_empty_file_becomes_a_fresh_buffer) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    write_bytes(s.path, "");
    store st(s);
    const auto report = st.open(1'000);
    BOOST_TEST(report.moved_aside.empty());
    BOOST_TEST(report.devices.empty());
    BOOST_TEST(look(s.path, "PRAGMA user_version") == mb::buffer::schema_version);
    check_works(st);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_database_is_moved_aside) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    const std::string garbage(8192, 'x');
    write_bytes(s.path, garbage);
    store st(s);
    const auto report = st.open(1'000);
    check_moved_aside(report, s.path);
    BOOST_TEST(bytes_of(report.moved_aside) == garbage); // kept as it was, for a look
    BOOST_TEST(look(s.path, "PRAGMA user_version") == mb::buffer::schema_version);
    check_works(st);
}

// Closing a read-write connection to a broken file would fold in or delete its WAL: the
// store looks through a read-only one first, and the WAL goes aside as it was.
BOOST_AUTO_TEST_CASE(an_unusable_file_s_wal_is_moved_aside_with_it) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    write_bytes(s.path, std::string(8192, 'x'));
    write_bytes(s.path.string() + "-wal", "not a wal either");
    store st(s);
    const auto report = st.open(1'000);
    check_moved_aside(report, s.path);
    BOOST_TEST(bytes_of(report.moved_aside + "-wal") == "not a wal either");
    check_works(st);
}

BOOST_AUTO_TEST_CASE(a_file_from_a_newer_meterbridge_is_moved_aside_untouched) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    {
        const auto db = open_sqlite(s.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        mb::buffer::exec(db.get(), "CREATE TABLE future(x); PRAGMA user_version = 999");
    }
    store st(s);
    const auto report = st.open(1'000);
    check_moved_aside(report, s.path);
    BOOST_TEST(report.why_moved.find("newer") != std::string::npos, report.why_moved);
    BOOST_TEST(look(report.moved_aside, "PRAGMA user_version") == 999);
    BOOST_TEST(look(report.moved_aside, "SELECT count(*) FROM sqlite_master WHERE name = "
                                        "'future'") == 1);
    BOOST_TEST(look(s.path, "PRAGMA user_version") == mb::buffer::schema_version);
    check_works(st);
}

BOOST_AUTO_TEST_CASE(a_file_with_a_corrupt_page_is_moved_aside) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    {
        store st(s);
        st.open(1'000);
        st.write(batch_of("a", 1, 500, 1'000));
        st.close_clean({{"a", 500}});
    }
    BOOST_REQUIRE(!fs::exists(s.path.string() + "-wal") ||
                  fs::file_size(s.path.string() + "-wal") == 0);
    auto bytes = bytes_of(s.path);
    const auto page = static_cast<std::size_t>(look(s.path, "PRAGMA page_size"));
    BOOST_REQUIRE(bytes.size() >= 6 * page);
    // Pages 2.. hold the tables: scribble over all but the header page.
    for (std::size_t i = page; i < bytes.size(); ++i)
        bytes[i] = static_cast<char>(0xA5 ^ (i & 0xFFU));
    write_bytes(s.path, bytes);

    store st(s);
    const auto report = st.open(2'000);
    check_moved_aside(report, s.path);
    BOOST_TEST(report.devices.empty()); // a fresh start: nothing of the old file is trusted
    check_works(st);
}

BOOST_AUTO_TEST_CASE(a_directory_that_cannot_be_made_is_an_error_naming_it) {
    mbtest::temp_dir dir;
    const auto blocker = dir.path / "not-a-dir";
    write_bytes(blocker, "a regular file\n");
    auto s = mbtest::settings_in(dir);
    s.path = blocker / "sub" / "buffer.db";
    store st(s);
    try {
        st.open(1'000);
        BOOST_ERROR("open() should have failed");
    } catch (const mb::buffer::sqlite_error& e) {
        BOOST_TEST(std::string(e.what()).find(blocker.string()) != std::string::npos, e.what());
    }
    BOOST_TEST(!st.is_open());
    BOOST_TEST(bytes_of(blocker) == "a regular file\n"); // left alone
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_created) {
    mbtest::temp_dir dir;
    auto s = mbtest::settings_in(dir);
    s.path = dir.path / "var" / "lib" / "meterbridge" / "buffer.db";
    store st(s);
    const auto report = st.open(1'000);
    BOOST_TEST(report.moved_aside.empty());
    BOOST_TEST(fs::is_regular_file(s.path));
    check_works(st);
}

BOOST_AUTO_TEST_CASE(an_unclean_stop_leaves_one_restart_gap_per_device_a_clean_one_none) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    {
        store st(s);
        BOOST_TEST(!st.open(1'000).unclean);
        auto b = batch_of("a", 1, 3, 500);
        b.reservations = {{"a", 4096, 111}, {"b", 4096, 112}, {"c", 4096, 113}};
        st.write(b);
        flush_batch c; // c used exactly what it reserved, written as a gap
        c.inserts.emplace_back(model::gap{"c", model::gap_reason::refused, 1, 4096, 300, 400});
        st.write(c);
        // Gone without close_clean(), as after kill -9.
    }
    std::vector<stored_item> rows;
    {
        store st(s);
        const auto report = st.open(2'000);
        BOOST_TEST(report.unclean);
        BOOST_TEST(report.restart_gaps == 2U); // a and b; c has nothing unaccounted for
        BOOST_TEST(report.devices.at("a").last == 4096U);
        BOOST_TEST(report.devices.at("b").last == 4096U);
        rows = st.read_after(0, 100);
        // Stopping cleanly now records the exact last seq and reserves nothing beyond it.
        st.close_clean({{"a", 4100}, {"b", 4096}, {"c", 4096}});
    }
    std::vector<model::gap> restarts;
    for (const auto& row : rows)
        if (const auto* g = std::get_if<model::gap>(&row.what);
            g != nullptr && g->reason == model::gap_reason::restart)
            restarts.push_back(*g);
    BOOST_REQUIRE(restarts.size() == 2U);
    std::sort(restarts.begin(), restarts.end(),
              [](const auto& x, const auto& y) { return x.device < y.device; });
    BOOST_TEST(restarts[0].device == "a");
    BOOST_TEST(restarts[0].from_seq == 4U); // above what reached the disk
    BOOST_TEST(restarts[0].to_seq == 4096U);
    BOOST_TEST(restarts[0].from_ts == 111); // when the range was reserved
    BOOST_TEST(restarts[0].to_ts == 2'000); // the restart
    BOOST_TEST(restarts[1].device == "b");
    BOOST_TEST(restarts[1].from_seq == 1U);
    BOOST_TEST(restarts[1].to_seq == 4096U);

    store st(s);
    const auto report = st.open(3'000);
    BOOST_TEST(!report.unclean);
    BOOST_TEST(report.restart_gaps == 0U);
    BOOST_TEST(report.devices.at("a").last == 4100U);
    BOOST_TEST(report.devices.at("b").last == 4096U);
    BOOST_TEST(st.read_after(0, 100).size() == rows.size()); // no new gap
}

BOOST_AUTO_TEST_CASE(max_age_drops_the_old_rows_as_gaps_but_not_those_loaded_or_in_flight) {
    mbtest::temp_dir dir;
    auto s = mbtest::settings_in(dir);
    s.max_age = std::chrono::milliseconds(1'000);
    store st(s);
    st.open(0);
    auto b = batch_of("a", 1, 10);
    b.inserts.emplace_back(reading_of("a", 11, 5'000)); // young
    const auto ids = st.write(b);
    // Rows 1..2 are loaded for replay (id <= keep_upto), row 5 is in flight.
    const auto counts = st.enforce_limits(2'000, ids[1], {ids[4]});
    BOOST_TEST(counts.at("a") == 7U);
    BOOST_TEST(st.figures().readings == 4U);
    BOOST_TEST(look(s.path, "SELECT dropped FROM devices WHERE name = 'a'") == 7);

    const auto [kept, gaps] = read_split(st, 100);
    const std::vector<std::uint64_t> expect_kept{1, 2, 5, 11};
    BOOST_TEST(kept == expect_kept, boost::test_tools::per_element());
    // One gap per run of dropped seqs: 3..4 and 6..10, with their readings' times.
    BOOST_REQUIRE(gaps.size() == 2U);
    BOOST_TEST(model::reason_name(gaps[0].reason) == "max_age");
    BOOST_TEST(gaps[0].from_seq == 3U);
    BOOST_TEST(gaps[0].to_seq == 4U);
    BOOST_TEST(gaps[0].from_ts == 3);
    BOOST_TEST(gaps[0].to_ts == 4);
    BOOST_TEST(gaps[1].from_seq == 6U);
    BOOST_TEST(gaps[1].to_seq == 10U);
}

BOOST_AUTO_TEST_CASE(a_dropped_run_that_continues_a_stored_gap_extends_it) {
    mbtest::temp_dir dir;
    auto s = mbtest::settings_in(dir);
    s.max_age = std::chrono::milliseconds(1'000);
    store st(s);
    st.open(0);
    st.write(batch_of("a", 1, 4, 10));
    BOOST_TEST(st.enforce_limits(2'000, 0, {}).at("a") == 4U);
    st.write(batch_of("a", 5, 6, 20));
    BOOST_TEST(st.enforce_limits(2'000, 0, {}).at("a") == 2U);
    const auto rows = st.read_after(0, 100);
    BOOST_REQUIRE(rows.size() == 1U);
    const auto* g = std::get_if<model::gap>(&rows[0].what);
    BOOST_REQUIRE(g != nullptr);
    BOOST_TEST(g->from_seq == 1U);
    BOOST_TEST(g->to_seq == 6U);
    BOOST_TEST(g->from_ts == 10);
    BOOST_TEST(g->to_ts == 20);
}

BOOST_AUTO_TEST_CASE(max_size_drops_the_oldest_until_the_file_fits) {
    mbtest::temp_dir dir;
    auto s = mbtest::settings_in(dir);
    s.max_size = 64U << 10U;
    store st(s);
    st.open(0);
    constexpr std::uint64_t n = 2000;
    for (std::uint64_t seq = 1; seq <= n; seq += 100) {
        st.write(batch_of("a", seq, seq + 99, 1'000));
        st.enforce_limits(1'000, 0, {});
        st.compact(false);
    }
    const auto f = st.figures();
    BOOST_TEST(f.file_bytes <= s.max_size);
    BOOST_TEST(look(s.path, "SELECT dropped FROM devices WHERE name = 'a'") ==
               std::int64_t(n - f.readings));
    const auto [kept, gaps] = read_split(st, n);
    BOOST_REQUIRE(!kept.empty());
    BOOST_TEST(kept.size() == f.readings);
    // The newest are kept, in one unbroken run up to the last; one gap covers the rest.
    BOOST_TEST(kept.back() == n);
    BOOST_TEST(kept.front() == n - kept.size() + 1);
    BOOST_REQUIRE(gaps.size() == 1U);
    BOOST_TEST(model::reason_name(gaps[0].reason) == "max_size");
    BOOST_TEST(gaps[0].from_seq == 1U);
    BOOST_TEST(gaps[0].to_seq == kept.front() - 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(buffer_store_file)

// Made by the daemon, the file and its WAL are its owner's only, whatever the umask.
BOOST_AUTO_TEST_CASE(a_file_the_store_makes_is_private_to_its_owner) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    const auto old_mask = ::umask(022);
    store st(s);
    st.open(0);
    st.write(batch_of("a", 1, 3));
    ::umask(old_mask);
    for (const auto& p : {s.path, fs::path(s.path.string() + "-wal")}) {
        struct stat st_mode {};
        BOOST_REQUIRE(::stat(p.c_str(), &st_mode) == 0);
        BOOST_TEST((st_mode.st_mode & 0777U) == 0600U, p);
    }
}

BOOST_AUTO_TEST_CASE(a_file_left_alone_passes_the_check) {
    mbtest::temp_dir dir;
    store st(mbtest::settings_in(dir));
    st.open(0);
    st.write(batch_of("a", 1, 50));
    st.compact(true);
    st.note_file();
    BOOST_CHECK_NO_THROW(st.check_file());
    st.write(batch_of("a", 51, 60));
    BOOST_CHECK_NO_THROW(st.check_file());
}

BOOST_AUTO_TEST_CASE(a_deleted_replaced_or_truncated_file_fails_the_check) {
    for (const std::string how : {"deleted", "replaced", "truncated"}) {
        mbtest::temp_dir dir;
        const auto s = mbtest::settings_in(dir);
        store st(s);
        st.open(0);
        st.write(batch_of("a", 1, 50));
        st.compact(true);
        st.note_file();
        if (how == "deleted") fs::remove(s.path);
        if (how == "replaced") {
            write_bytes(dir.path / "other", "x");
            fs::rename(dir.path / "other", s.path);
        }
        if (how == "truncated") fs::resize_file(s.path, 0);
        BOOST_CHECK_EXCEPTION(st.check_file(), mb::buffer::file_lost_error, [&](const auto& e) {
            return std::string(e.what()).find(how) != std::string::npos;
        });
    }
}

// Deleted under the store: everything is read back through the connection still open on it;
// the new file has a new id, the daemon's reservations and drop counts, the old row ids.
BOOST_AUTO_TEST_CASE(a_deleted_file_is_made_again_whole_with_a_new_id) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    store st(s);
    const auto first = st.open(0);
    const auto ids = st.write(batch_of("a", 1, 20));
    fs::remove(s.path);
    fs::remove(s.path.string() + "-wal");
    mb::buffer::rebuild_request req;
    req.devices["a"] = {25, 4096, 3};
    req.now_ms = 5'000;
    const auto report = st.rebuild(req);
    BOOST_TEST(report.read_error.empty(), report.read_error);
    BOOST_TEST(report.copied == 20U);
    BOOST_TEST(report.lost.empty());
    BOOST_TEST(report.store_id != first.store_id);
    BOOST_TEST(report.moved_aside.empty()); // nothing was left at the path
    const auto rows = st.read_after(0, 100);
    BOOST_REQUIRE(rows.size() == 20U);
    BOOST_TEST(rows.front().id == ids.front()); // the ids the queue knows
    BOOST_TEST(look(s.path, "SELECT reserved_to FROM devices WHERE name = 'a'") == 4096);
    BOOST_TEST(look(s.path, "SELECT dropped FROM devices WHERE name = 'a'") == 3);
    BOOST_CHECK_NO_THROW(st.check_file());
    // New items take ids above the old ones.
    BOOST_TEST(st.write(batch_of("a", 26, 26)).at(0) > ids.back());
    st.close_clean({{"a", 26}});
    store again(s);
    const auto reopened = again.open(6'000);
    BOOST_TEST(reopened.store_id == report.store_id);
    BOOST_TEST(reopened.devices.at("a").last == 26U);
}

// No new file can be made (here its directory is gone; on a box, a full disk): the store stays
// on the lost file, leaves nothing at the path, and a later try, with room, gets everything.
BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_made_again_keeps_the_lost_one_for_a_later_try) {
    mbtest::temp_dir dir;
    auto s = mbtest::settings_in(dir);
    s.path = dir.path / "sub" / "buffer.db";
    store st(s);
    st.open(0);
    st.write(batch_of("a", 1, 20));
    fs::remove_all(dir.path / "sub");
    mb::buffer::rebuild_request req;
    req.devices["a"] = {20, 4096, 0};
    BOOST_CHECK_THROW(st.rebuild(req), std::exception);
    BOOST_TEST(!fs::exists(dir.path / "sub"));
    BOOST_TEST(st.read_after(0, 100).size() == 20U); // still there, through the lost file
    BOOST_CHECK_THROW(st.check_file(), mb::buffer::file_lost_error);

    fs::create_directories(dir.path / "sub");
    const auto report = st.rebuild(req);
    BOOST_TEST(report.copied == 20U);
    BOOST_TEST(report.lost.empty());
    BOOST_CHECK_NO_THROW(st.check_file());
    BOOST_TEST(look(s.path, "SELECT count(*) FROM items") == 20);
}

// Truncated: what the connection still has cached is read back, the rest is gone; each device's
// seqs are either in the new file or inside a file_lost gap, never both, and the queue's own
// items (here seq 12, loaded for replay) are kept.
BOOST_AUTO_TEST_CASE(a_truncated_file_announces_what_it_cannot_give_back_as_file_lost) {
    mbtest::temp_dir dir;
    const auto s = mbtest::settings_in(dir);
    store st(s);
    st.open(0);
    constexpr std::uint64_t n = 60'000; // far more than the page cache holds
    for (std::uint64_t from = 1; from <= n; from += 5'000)
        st.write(batch_of("a", from, from + 4'999));
    st.write(batch_of("b", 1, 10));
    st.compact(true);
    st.note_file();
    fs::resize_file(s.path, 0);
    BOOST_CHECK_THROW(st.check_file(), mb::buffer::file_lost_error);
    mb::buffer::rebuild_request req;
    req.devices["a"] = {n, n + 4096, 0};
    req.devices["b"] = {10, 4096, 0};
    req.in_memory.push_back({12, reading_of("a", 12, 12), 12});
    req.now_ms = 7'000;
    const auto report = st.rebuild(req);
    BOOST_TEST(!report.read_error.empty());
    BOOST_TEST(!report.lost.empty());
    BOOST_TEST(report.moved_aside.find(".lost-") != std::string::npos, report.moved_aside);
    std::map<std::string, std::vector<int>> seen; // seq -> times found (read back or in a gap)
    seen["a"].resize(n + 1);
    seen["b"].resize(11);
    for (const auto& row : st.read_after(0, 2 * n)) {
        if (const auto* r = std::get_if<model::reading>(&row.what)) ++seen[r->device].at(r->seq);
        if (const auto* g = std::get_if<model::gap>(&row.what)) {
            BOOST_TEST(model::reason_name(g->reason) == "file_lost");
            BOOST_TEST(g->from_ts == 7'000);
            for (auto seq = g->from_seq; seq <= g->to_seq; ++seq)
                ++seen[g->device].at(seq);
        }
    }
    BOOST_TEST(seen["a"][12] == 1);
    for (const auto& [device, counts] : seen)
        for (std::size_t seq = 1; seq < counts.size(); ++seq)
            BOOST_REQUIRE_MESSAGE(counts[seq] == 1,
                                  device << " seq " << seq << " found " << counts[seq] << " times");
}

BOOST_AUTO_TEST_SUITE_END()
