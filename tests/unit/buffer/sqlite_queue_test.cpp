// The store-and-forward queue on a real SQLite file and a real uv loop (issue 8): seq per
// device held until its reservation is on disk, ack elision and batch delete, an outage on
// disk then live-first replay, seq across clean and unclean restarts, refusals, max_size and
// max_age as gaps, and a file that cannot be made. The queue sees a clock the test moves (a
// reading is old enough to write only when the test says so); the file is checked through a
// separate read-only connection, as another process would see it.
#include "buffer/sqlite_handle.hpp"
#include "buffer/sqlite_queue.hpp"
#include "tests/support/loop_test.hpp"
#include "tests/unit/buffer/fake_outlet.hpp"
#include "tests/unit/buffer/temp_buffer.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace model = mb::model;
using mb::buffer::buffer_settings;
using mb::buffer::sqlite_queue;
using mbtest::fake_outlet;
using mbtest::run_until;

namespace {

// The time the queue sees, moved only by the test.
struct manual_clock final : mb::common::clock {
    std::int64_t unix = 1'700'000'000'000;
    std::chrono::steady_clock::time_point mono{std::chrono::hours(1000)};
    [[nodiscard]] std::int64_t unix_ms() const override { return unix; }
    [[nodiscard]] std::chrono::steady_clock::time_point steady() const override { return mono; }
    void advance(std::chrono::milliseconds d) {
        unix += d.count();
        mono += d;
    }
};

// The buffer file as another process sees it: one read-only connection per look.
struct file_look {
    fs::path path;

    [[nodiscard]] std::int64_t value(const std::string& sql) const {
        const auto db = mb::buffer::open_sqlite(path, SQLITE_OPEN_READONLY);
        return mb::buffer::query_int(db.get(), sql.c_str());
    }
    [[nodiscard]] std::int64_t items() const { return value("SELECT count(*) FROM items"); }
    [[nodiscard]] std::int64_t readings() const {
        return value("SELECT count(*) FROM items WHERE kind = 0");
    }
    // The highest items id ever given (AUTOINCREMENT): every row ever written, deleted or not.
    [[nodiscard]] std::int64_t ids_used() const {
        return value("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'items'");
    }
    // Database pages in use plus the WAL: what max_size bounds.
    [[nodiscard]] std::uint64_t used_bytes() const {
        const auto pages = value("PRAGMA page_count") - value("PRAGMA freelist_count");
        std::error_code ec;
        const auto wal = fs::file_size(path.string() + "-wal", ec);
        return static_cast<std::uint64_t>(pages * value("PRAGMA page_size")) + (ec ? 0 : wal);
    }

    struct device_row {
        std::int64_t reserved_to = 0, last_seq = 0, dropped = 0;
    };
    [[nodiscard]] std::optional<device_row> device(const std::string& name) const {
        const auto db = mb::buffer::open_sqlite(path, SQLITE_OPEN_READONLY);
        mb::buffer::statement s(
            db.get(), "SELECT reserved_to, last_seq, dropped FROM devices WHERE name = ?");
        s.bind(1, name);
        if (!s.step()) return std::nullopt;
        device_row d{s.int64(0), s.int64(1), s.int64(2)};
        s.reset();
        return d;
    }
    [[nodiscard]] std::int64_t device_count() const {
        return value("SELECT count(*) FROM devices");
    }

    struct item_row {
        std::int64_t id = 0;
        std::string device;
        std::int64_t seq = 0, kind = 0;
    };
    [[nodiscard]] std::vector<item_row> rows() const {
        const auto db = mb::buffer::open_sqlite(path, SQLITE_OPEN_READONLY);
        mb::buffer::statement s(db.get(), "SELECT items.id, devices.name, seq, kind FROM items "
                                          "JOIN devices ON devices.id = items.device ORDER BY "
                                          "items.id");
        std::vector<item_row> out;
        while (s.step())
            out.push_back({s.int64(0), std::string(s.text(1)), s.int64(2), s.int64(3)});
        return out;
    }
};

// A reading whose energy_import_total value (its tag) names it (the test sets it to the seq it
// expects), with `extra` more values to make it bigger.
model::reading reading_of(const std::string& device, std::int64_t ts, double tag,
                          std::size_t extra = 0) {
    model::reading r;
    r.device = device;
    r.ts_ms = ts;
    r.values.emplace_back("energy_import_total", tag); // the tag
    for (std::size_t i = 0; i < extra; ++i)
        r.values.emplace_back(fmt::format("harmonic_voltage_l1_h{}", i + 2), 230.5 + double(i));
    return r;
}

double tag_of(const model::reading& r) {
    return r.values.at(0).value;
}

// The queue on `s`'s file, opened; it reads time from `c`.
std::unique_ptr<sqlite_queue> open_with(uv_loop_t& loop, const buffer_settings& s,
                                        const mb::common::clock& c) {
    auto q = std::make_unique<sqlite_queue>(loop, s, c);
    q->open();
    BOOST_REQUIRE_MESSAGE(q->error().empty(), q->error());
    return q;
}

// Every seq a list of gaps covers, with the reason asked for.
std::vector<std::uint64_t> covered(const std::vector<model::gap>& gaps, const std::string& device,
                                   model::gap_reason why) {
    std::vector<std::uint64_t> out;
    for (const auto& g : gaps)
        if (g.device == device && g.reason == why)
            for (auto seq = g.from_seq; seq <= g.to_seq; ++seq)
                out.push_back(seq);
    return out;
}

// from, from + 1, ..., to
std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> v(to - from + 1);
    std::iota(v.begin(), v.end(), from);
    return v;
}

std::vector<std::uint64_t> sorted(std::vector<std::uint64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Acknowledges what the outlet holds and pumps, every turn of the loop, until the queue and
// its file are empty.
bool deliver_everything(uv_loop_t& loop, sqlite_queue& q, fake_outlet& out, const file_look& f,
                        const std::function<void()>& each_turn = {}) {
    return run_until(
        loop,
        [&] {
            out.ack_all(q);
            if (each_turn) each_turn();
            q.pump(out);
            return q.size() == 0 && q.inflight() == 0 && q.in_memory() == 0 && f.items() == 0;
        },
        20s);
}

// What most cases start from, beside the loop: a temporary directory with the buffer's
// settings in it (a case may change them before it opens the queue), the file as another
// process sees it, the clock the queue reads and half a flush interval.
struct on_file : mbtest::on_loop {
    mbtest::temp_dir dir;
    buffer_settings s = mbtest::settings_in(dir);
    file_look file{s.path};
    manual_clock clock;
    std::chrono::milliseconds half_flush = s.flush_interval / 2;
};

// The one gap `gaps` holds: its reason, seqs and timestamps.
void check_one_gap(const std::vector<model::gap>& gaps, std::string_view reason,
                   std::uint64_t from_seq, std::uint64_t to_seq, std::int64_t from_ts,
                   std::int64_t to_ts) {
    BOOST_REQUIRE(gaps.size() == 1U);
    BOOST_TEST(model::reason_name(gaps[0].reason) == reason);
    BOOST_TEST(gaps[0].from_seq == from_seq);
    BOOST_TEST(gaps[0].to_seq == to_seq);
    BOOST_TEST(gaps[0].from_ts == from_ts);
    BOOST_TEST(gaps[0].to_ts == to_ts);
}

} // namespace

BOOST_AUTO_TEST_SUITE(sqlite_queue_on_a_file)

BOOST_FIXTURE_TEST_CASE(seq_counts_per_device_from_one_and_waits_for_its_reservation_on_disk,
                        on_file) {
    fake_outlet out;
    out.room = 100'000;
    // What the file had reserved for the device when each reading went out.
    std::map<std::string, std::int64_t> reserved_seen;
    std::vector<std::pair<std::uint64_t, std::int64_t>> sent_under; // seq, reservation then
    out.on_publish = [&](const mb::buffer::item& i) {
        const auto* r = std::get_if<model::reading>(&i);
        if (r == nullptr) return;
        auto& seen = reserved_seen[r->device];
        if (static_cast<std::int64_t>(r->seq) > seen) {
            const auto d = file.device(r->device);
            seen = d ? d->reserved_to : 0;
        }
        sent_under.emplace_back(r->seq, seen);
    };
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); });

    BOOST_TEST(q->push(reading_of("a", clock.unix, 1)) == 1U);
    BOOST_TEST(q->push(reading_of("a", clock.unix, 2)) == 2U);
    BOOST_TEST(q->push(reading_of("b", clock.unix, 1)) == 1U);
    BOOST_TEST(q->push(reading_of("b", clock.unix, 2)) == 2U);
    // No reservation has committed yet (only the loop runs a commit's continuation): a crash
    // now could hand these numbers out again, so none goes out.
    q->pump(out);
    BOOST_TEST(out.sent.empty());
    BOOST_REQUIRE(run_until(
        loop, [&] { return out.sent.size() == 4; }, 5s));
    const std::vector<std::uint64_t> first_two{1, 2};
    BOOST_TEST(out.seqs("a") == first_two, boost::test_tools::per_element());
    BOOST_TEST(out.seqs("b") == first_two, boost::test_tools::per_element());
    for (const auto& r : out.readings())
        BOOST_TEST(tag_of(r) == double(r.seq));
    const auto a = file.device("a");
    BOOST_REQUIRE(a.has_value());
    // A range of about reserve_step numbers, written once for all of them.
    const auto reserved = static_cast<std::uint64_t>(a->reserved_to);
    BOOST_TEST(reserved >= sqlite_queue::reserve_step);
    BOOST_TEST(reserved <= sqlite_queue::reserve_step + 2);
    BOOST_TEST(a->last_seq == 0); // nothing written: the clock has not moved
    BOOST_TEST(file.items() == 0);

    // Within the reservation a reading goes out at once; past it, it waits for the next one,
    // which the queue asks for long before the numbers run out.
    for (std::uint64_t seq = 3; seq <= reserved + 3; ++seq)
        BOOST_REQUIRE(q->push(reading_of("a", clock.unix, double(seq))) == seq);
    q->pump(out);
    BOOST_TEST(out.seqs("a").size() == reserved); // 1..reserved, not above
    BOOST_REQUIRE(run_until(
        loop, [&] { return out.seqs("a").size() == reserved + 3; }, 5s));
    BOOST_TEST(out.seqs("a") == range(1, reserved + 3), boost::test_tools::per_element());
    for (const auto& [seq, under] : sent_under)
        BOOST_TEST(std::int64_t(seq) <= under, "seq " << seq << " sent under " << under);
    BOOST_TEST(file.device("a")->reserved_to >=
               std::int64_t(reserved + sqlite_queue::reserve_step));
    BOOST_TEST(file.device("b")->reserved_to == std::int64_t(reserved)); // b took one range
}

BOOST_FIXTURE_TEST_CASE(acked_in_time_never_reaches_the_file_the_rest_is_written_then_deleted,
                        on_file) {
    fake_outlet out;
    out.room = 100;
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); });

    for (int i = 1; i <= 10; ++i)
        q->push(reading_of("fast", clock.unix, i));
    BOOST_REQUIRE(run_until(
        loop, [&] { return out.sent.size() == 10; }, 5s));
    out.ack_all(*q); // well before half a flush interval
    BOOST_TEST(q->size() == 0U);
    BOOST_TEST(q->in_memory() == 0U);

    clock.advance(2 * half_flush); // anything still in memory would now be written
    for (int i = 1; i <= 5; ++i)
        q->push(reading_of("slow", clock.unix, i));
    BOOST_REQUIRE(run_until(
        loop, [&] { return out.sent.size() == 15; }, 5s));
    BOOST_TEST(file.readings() == 0); // younger than half an interval: not yet
    clock.advance(half_flush);        // now old enough: the next flush writes them
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == 5; }, 5s));

    // Only the unacknowledged ones were ever written: 5 rows, ids 1..5, the first ids used.
    const auto rows = file.rows();
    BOOST_REQUIRE(rows.size() == 5U);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        BOOST_TEST(rows[i].id == std::int64_t(i + 1));
        BOOST_TEST(rows[i].device == "slow");
        BOOST_TEST(rows[i].seq == std::int64_t(i + 1));
    }
    BOOST_TEST(file.ids_used() == 5);
    // "fast" left only its reservation in the file.
    const auto fast = file.device("fast");
    BOOST_REQUIRE(fast.has_value());
    BOOST_TEST(fast->reserved_to >= std::int64_t(sqlite_queue::reserve_step));
    BOOST_TEST(fast->last_seq == 0);
    BOOST_TEST(file.device("slow")->last_seq == 5);
    BOOST_TEST(q->size() == 5U);

    // Acknowledged now: deleted together by the next flush, not one by one as the acks come.
    out.ack_all(*q);
    BOOST_TEST(file.readings() == 5);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.items() == 0; }, 5s));
    BOOST_TEST(file.ids_used() == 5);
    BOOST_TEST(q->size() == 0U);
    BOOST_TEST(q->in_memory() == 0U);
    BOOST_TEST(q->stats().dropped == 0U);
}

BOOST_FIXTURE_TEST_CASE(an_outage_goes_to_disk_then_live_goes_first_and_the_backlog_oldest_first,
                        on_file) {
    fake_outlet out; // room 0: the uplink is down
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); }); // as the forwarder does

    constexpr std::uint64_t n = 3 * sqlite_queue::replay_batch;
    constexpr std::uint64_t batches = 6;
    std::uint64_t pushed = 0;
    for (std::uint64_t b = 0; b < batches; ++b) {
        for (std::uint64_t i = 0; i < n / batches; ++i) {
            ++pushed;
            BOOST_REQUIRE(q->push(reading_of("m", clock.unix, double(pushed))) == pushed);
        }
        q->pump(out);
        clock.advance(half_flush);
        BOOST_REQUIRE(run_until(
            loop, [&] { return file.readings() == std::int64_t(pushed); }, 5s));
    }
    BOOST_REQUIRE(run_until(
        loop, [&] { return q->busy() == 0; }, 5s));
    BOOST_TEST(out.sent.empty());
    BOOST_TEST(q->size() == n);
    BOOST_TEST(q->stats().readings == n);
    // Memory holds a replay window, not the backlog.
    BOOST_TEST(q->in_memory() <= sqlite_queue::replay_batch * 3 / 2);
    BOOST_TEST(q->in_memory() < n / 2);

    // The uplink is back with a window of 32: live readings first, the backlog oldest first
    // in what they leave.
    constexpr std::size_t window = 32;
    constexpr std::uint64_t live = 4;
    out.room = window;
    for (std::uint64_t i = 1; i <= live; ++i)
        BOOST_REQUIRE(q->push(reading_of("m", clock.unix, double(n + i))) == n + i);
    q->pump(out);
    BOOST_REQUIRE(run_until(
        loop, [&] { return out.sent.size() == window; }, 5s));
    const auto first = out.seqs("m");
    std::vector<std::uint64_t> expected = range(n + 1, n + live);
    const auto backlog_part = range(1, window - live);
    expected.insert(expected.end(), backlog_part.begin(), backlog_part.end());
    BOOST_TEST(first == expected, boost::test_tools::per_element());

    // Halfway through the backlog three more live readings overtake it.
    std::optional<std::size_t> overtaken_at;
    out.room += 96; // a wider window drains faster
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file, [&] {
        if (overtaken_at || out.sent.size() < n / 2) return;
        overtaken_at = out.sent.size();
        for (std::uint64_t i = 1; i <= 3; ++i)
            q->push(reading_of("m", clock.unix, double(n + live + i)));
    }));
    BOOST_REQUIRE(overtaken_at.has_value());
    const auto all = out.seqs("m");
    BOOST_REQUIRE(all.size() >= *overtaken_at + 3);
    const std::vector<std::uint64_t> late{n + live + 1, n + live + 2, n + live + 3};
    const std::vector<std::uint64_t> next_three(all.begin() + std::ptrdiff_t(*overtaken_at),
                                                all.begin() + std::ptrdiff_t(*overtaken_at) + 3);
    BOOST_TEST(next_three == late, boost::test_tools::per_element());

    // Every seq exactly once, the backlog in order, each with its own values.
    BOOST_TEST(sorted(all) == range(1, n + live + 3), boost::test_tools::per_element());
    std::vector<std::uint64_t> backlog;
    for (const auto seq : all)
        if (seq <= n) backlog.push_back(seq);
    BOOST_TEST(backlog == range(1, n), boost::test_tools::per_element());
    for (const auto& r : out.readings())
        BOOST_REQUIRE(tag_of(r) == double(r.seq));
    BOOST_TEST(out.gaps().empty());
}

// A kill -9 during a replay sends again what was acknowledged but is still in the file: the
// acknowledged rows leave it in commits of their own, and the replay waits for them, so that
// at any moment at most unconfirmed_max + the window are acknowledged and still on disk (it
// was every acknowledgement since the last tick: thousands at a fast replay).
BOOST_FIXTURE_TEST_CASE(acknowledged_rows_leave_the_file_in_batches_during_a_replay, on_file) {
    fake_outlet out; // room 0: the uplink is down
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); });
    constexpr std::uint64_t n = 3 * sqlite_queue::replay_batch;
    for (std::uint64_t i = 1; i <= n; ++i)
        BOOST_REQUIRE(q->push(reading_of("m", clock.unix, double(i))) == i);
    q->pump(out);
    clock.advance(half_flush);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == std::int64_t(n) && q->busy() == 0; }, 10s));

    constexpr std::size_t window = 32;
    out.room = window;
    std::int64_t worst = 0;
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file, [&] {
        const auto acked = std::int64_t(out.sent.size() - out.unacked.size());
        const auto unacked_stored = std::int64_t(n) - acked;
        worst = std::max(worst, file.readings() - unacked_stored);
    }));
    BOOST_TEST(out.seqs("m") == range(1, n), boost::test_tools::per_element());
    BOOST_TEST_MESSAGE("most acknowledged readings still in the file at once: " << worst);
    // 256 is the bound docs/buffer.md states (with the window twice, for a crash).
    BOOST_TEST(sqlite_queue::unconfirmed_max <= 256U);
    BOOST_TEST(worst <= std::int64_t(sqlite_queue::unconfirmed_max + window));
}

BOOST_FIXTURE_TEST_CASE(a_clean_restart_continues_seq_exactly_and_replays_what_was_kept, on_file) {
    fake_outlet out; // room 0
    {
        auto q = open_with(loop, s, clock);
        for (int i = 1; i <= 5; ++i)
            q->push(reading_of("a", clock.unix, i));
        for (int i = 1; i <= 2; ++i)
            q->push(reading_of("b", clock.unix, i));
        bool closed = false;
        q->close([&] { closed = true; }); // the unacknowledged go to disk, however young
        BOOST_REQUIRE(run_until(
            loop, [&] { return closed; }, 5s));
    }
    BOOST_TEST(file.value("SELECT value FROM meta WHERE key = 'clean'") == 1);
    BOOST_TEST(file.readings() == 7);
    BOOST_TEST(file.device("a")->last_seq == 5);
    BOOST_TEST(file.device("a")->reserved_to == 5); // nothing reserved beyond a clean stop
    BOOST_TEST(file.device("b")->last_seq == 2);

    clock.advance(1s);
    auto q = open_with(loop, s, clock);
    BOOST_TEST(q->size() == 7U);
    BOOST_TEST(q->push(reading_of("a", clock.unix, 6)) == 6U);
    BOOST_TEST(q->push(reading_of("b", clock.unix, 3)) == 3U);
    out.room = 100;
    q->on_ready([&] { q->pump(out); });
    q->pump(out);
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    BOOST_TEST(sorted(out.seqs("a")) == range(1, 6), boost::test_tools::per_element());
    BOOST_TEST(sorted(out.seqs("b")) == range(1, 3), boost::test_tools::per_element());
    for (const auto& r : out.readings())
        BOOST_TEST(tag_of(r) == double(r.seq));
    BOOST_TEST(out.gaps().empty()); // a clean stop: no restart gap
}

BOOST_FIXTURE_TEST_CASE(after_an_unclean_stop_seq_continues_above_the_reservation_behind_a_gap,
                        on_file) {
    const auto reserved_at = clock.unix;
    std::map<std::uint64_t, double> first_run; // seq -> tag, as delivered
    {
        fake_outlet out;
        out.room = 100;
        auto q = open_with(loop, s, clock);
        q->on_ready([&] { q->pump(out); });
        for (int i = 1; i <= 3; ++i) // never acknowledged: written to disk
            q->push(reading_of("a", clock.unix, i));
        BOOST_REQUIRE(run_until(
            loop, [&] { return out.sent.size() == 3; }, 5s));
        clock.advance(half_flush);
        BOOST_REQUIRE(run_until(
            loop, [&] { return file.readings() == 3; }, 5s));
        const auto in_flight = out.unacked;
        for (int i = 4; i <= 13; ++i) // acknowledged at once: never written
            q->push(reading_of("a", clock.unix, i));
        q->pump(out);
        BOOST_REQUIRE(out.sent.size() == 13U);
        for (const auto& [mid, index] : out.unacked)
            if (!in_flight.contains(mid)) q->acked(mid);
        for (const auto& r : out.readings())
            first_run[r.seq] = tag_of(r);
        // The queue goes without close(), as with kill -9: its destructor closes nothing.
    }
    BOOST_TEST(file.value("SELECT value FROM meta WHERE key = 'clean'") == 0);
    BOOST_TEST(file.readings() == 3);
    BOOST_TEST(file.ids_used() == 3);
    BOOST_TEST(file.device("a")->last_seq == 3);
    const auto reserved = static_cast<std::uint64_t>(file.device("a")->reserved_to);
    BOOST_TEST(reserved >= sqlite_queue::reserve_step);

    clock.advance(1s);
    fake_outlet out;
    out.room = 100;
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); });
    const auto next = reserved + 1;
    BOOST_TEST(q->push(reading_of("a", clock.unix, double(next))) == next);
    q->pump(out);
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));

    // One restart gap covers what may have been used: 4..reserved (4..13 were delivered, the
    // rest never handed out).
    // From when the range was reserved to the restart.
    check_one_gap(out.gaps(), "restart", 4, reserved, reserved_at, clock.unix);
    BOOST_TEST(out.gaps()[0].device == "a");
    // The stored three again (at least once), and the new reading above the gap: no seq ever
    // named two different readings.
    const std::vector<std::uint64_t> second{1, 2, 3, next};
    BOOST_TEST(sorted(out.seqs("a")) == second, boost::test_tools::per_element());
    for (const auto& r : out.readings()) {
        if (r.seq == next) continue;
        BOOST_REQUIRE(first_run.contains(r.seq));
        BOOST_TEST(tag_of(r) == first_run.at(r.seq), "seq " << r.seq << " named two readings");
    }
    BOOST_TEST(file.device("a")->reserved_to >=
               std::int64_t(next + sqlite_queue::reserve_step - 1));
}

BOOST_FIXTURE_TEST_CASE(refused_readings_leave_refused_gaps_counted_per_device_the_rest_flow,
                        on_file) {
    fake_outlet out;
    out.room = 100;
    out.refuse = {"bad"};
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); });
    for (int i = 1; i <= 3; ++i) {
        q->push(reading_of("bad", clock.unix + i, i));
        q->push(reading_of("good", clock.unix + i, i));
    }
    q->pump(out);
    BOOST_REQUIRE(run_until(
        loop, [&] { return out.seqs("good").size() == 3; }, 5s));
    BOOST_TEST(out.seqs("bad").empty());
    BOOST_TEST(covered(out.gaps(), "bad", model::gap_reason::refused) == range(1, 3),
               boost::test_tools::per_element());
    for (const auto& g : out.gaps())
        if (g.from_seq == 1) BOOST_TEST(g.from_ts == clock.unix + 1);

    // A PUBACK with a failure reason refuses a reading already sent.
    out.refuse.clear();
    q->push(reading_of("good", clock.unix, 4));
    q->pump(out);
    const int mid = out.next_mid - 1;
    BOOST_REQUIRE(out.seqs("good").back() == 4U);
    out.unacked.erase(mid);
    ++out.room;
    q->refused(mid, "packet too large");
    BOOST_TEST(covered(out.gaps(), "good", model::gap_reason::refused) ==
                   std::vector<std::uint64_t>{4},
               boost::test_tools::per_element());

    const auto st = q->stats();
    BOOST_TEST(st.dropped == 4U);
    BOOST_TEST(st.dropped_by_device.at("bad") == 3U);
    BOOST_TEST(st.dropped_by_device.at("good") == 1U);
    BOOST_TEST(st.error.empty());
    // The counts are kept in the file by the next flush.
    BOOST_REQUIRE(run_until(
        loop,
        [&] {
            const auto bad = file.device("bad");
            const auto good = file.device("good");
            return bad && good && bad->dropped == 3 && good->dropped == 1;
        },
        5s));
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    BOOST_TEST(sorted(out.seqs("good")) == range(1, 4), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(past_max_size_the_oldest_readings_go_counted_and_announced, on_file) {
    s.max_size = 64U << 10U;
    fake_outlet out; // room 0, and nobody pumps: nothing is loaded for replay
    auto q = open_with(loop, s, clock);

    constexpr std::uint64_t n = 1200;
    constexpr std::uint64_t batch = 100;
    const auto t0 = clock.unix;
    for (std::uint64_t pushed = 0; pushed < n;) {
        for (std::uint64_t i = 0; i < batch; ++i) {
            ++pushed;
            q->push(reading_of("m", t0 + std::int64_t(pushed), double(pushed), 20));
        }
        clock.advance(half_flush);
        BOOST_REQUIRE(run_until(
            loop, [&] { return q->in_memory() == 0 && q->busy() == 0; }, 5s));
        BOOST_TEST(q->error().empty(), q->error());
        BOOST_TEST(file.used_bytes() <= s.max_size, "after " << pushed << " readings");
    }
    const auto st = q->stats();
    BOOST_TEST(st.dropped > 0U);
    BOOST_TEST(st.dropped_by_device.count("m") == 1U);
    BOOST_TEST(st.dropped_by_device.at("m") == st.dropped);
    BOOST_TEST(st.readings + st.dropped == n);
    BOOST_TEST(file.device("m")->dropped == std::int64_t(st.dropped));

    out.room = 200;
    q->on_ready([&] { q->pump(out); });
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    // The oldest went, as one run announced by one gap; the rest came, each once.
    check_one_gap(out.gaps(), "max_size", 1, st.dropped, t0 + 1, t0 + std::int64_t(st.dropped));
    BOOST_TEST(out.seqs("m") == range(st.dropped + 1, n), boost::test_tools::per_element());
}

// Pumped as the forwarder pumps a disconnected uplink: the backlog is not loaded into memory
// while the link is down (rows loaded for replay are out of enforce_limits' reach), so the
// oldest readings go, not the ones each flush has just written (docs/configuration.md).
BOOST_FIXTURE_TEST_CASE(past_max_size_the_oldest_go_also_while_the_uplink_is_pumped_down, on_file) {
    s.max_size = 64U << 10U;
    fake_outlet out;
    out.up = false; // the outage
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); }); // as the forwarder does, connected or not

    constexpr std::uint64_t n = 1200;
    constexpr std::uint64_t batch = 100;
    for (std::uint64_t pushed = 0; pushed < n;) {
        for (std::uint64_t i = 0; i < batch; ++i) {
            ++pushed;
            q->push(reading_of("m", clock.unix, double(pushed), 20));
        }
        q->pump(out);
        clock.advance(half_flush);
        // Each reading is on disk or dropped.
        BOOST_REQUIRE(run_until(
            loop,
            [&] {
                return q->busy() == 0 &&
                       file.readings() + std::int64_t(q->stats().dropped) == std::int64_t(pushed);
            },
            5s));
        BOOST_REQUIRE(file.used_bytes() <= s.max_size);
    }
    const auto dropped = q->stats().dropped;
    BOOST_REQUIRE(dropped > 0U);

    out.up = true;
    out.room = 200;
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    // Every seq is either delivered or explained by a max_size gap, once.
    const auto kept = sorted(out.seqs("m"));
    const auto gone = sorted(covered(out.gaps(), "m", model::gap_reason::max_size));
    BOOST_REQUIRE(gone.size() == dropped);
    auto all = kept;
    all.insert(all.end(), gone.begin(), gone.end());
    BOOST_REQUIRE(sorted(all) == range(1, n));
    // The oldest went.
    BOOST_REQUIRE(!kept.empty());
    BOOST_TEST(gone.back() < kept.front(), "dropped up to seq " << gone.back() << ", kept "
                                                                << kept.front() << ".."
                                                                << kept.back());
}

// As above for max_age: a reading past max_age never leaves, from disk or from memory.
BOOST_FIXTURE_TEST_CASE(readings_older_than_max_age_go_also_while_the_uplink_is_pumped_down,
                        on_file) {
    s.max_age = 300ms;
    fake_outlet out;
    out.up = false; // the outage
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); }); // as the forwarder does, connected or not
    for (int i = 1; i <= 20; ++i)
        q->push(reading_of("a", clock.unix, i));
    q->pump(out);
    clock.advance(half_flush);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == 20 && q->busy() == 0; }, 5s));

    clock.advance(300ms); // the 20 are now older than max_age
    for (int i = 21; i <= 25; ++i)
        q->push(reading_of("a", clock.unix, i));
    clock.advance(half_flush);
    // The flush that writes the young ones checks max_age after them.
    BOOST_REQUIRE(run_until(
        loop,
        [&] { return q->busy() == 0 && file.readings() + std::int64_t(q->stats().dropped) == 25; },
        5s));
    BOOST_TEST(q->stats().dropped == 20U);

    out.up = true;
    out.room = 100;
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    BOOST_TEST(out.seqs("a") == range(21, 25), boost::test_tools::per_element());
    BOOST_TEST(covered(out.gaps(), "a", model::gap_reason::max_age) == range(1, 20),
               boost::test_tools::per_element());
}

// max_age is the time a reading waited in the gateway: a meter whose own clock lags by more
// than max_age loses nothing (before, every live reading of it went as a one-seq gap).
BOOST_FIXTURE_TEST_CASE(a_meter_clock_behind_by_more_than_max_age_loses_nothing, on_file) {
    s.max_age = std::chrono::hours(1);
    fake_outlet out;
    out.room = 100;
    auto q = open_with(loop, s, clock);
    q->on_ready([&] { q->pump(out); });
    const auto lagging = clock.unix - 2 * 3'600'000; // the meter's clock: 2 h behind
    for (int i = 1; i <= 10; ++i)
        q->push(reading_of("native", lagging + i, i));
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    BOOST_TEST(out.seqs("native") == range(1, 10), boost::test_tools::per_element());
    BOOST_TEST(out.gaps().empty());
    BOOST_TEST(q->stats().dropped == 0U);
}

// A wall clock set forward (NTP reaching a box that booted without it) does not age what
// waits: neither the readings on disk nor those in memory. Real waiting still counts.
BOOST_FIXTURE_TEST_CASE(a_wall_clock_step_does_not_age_the_backlog, on_file) {
    s.max_age = std::chrono::minutes(10);
    fake_outlet out; // room 0: the uplink is down
    auto q = open_with(loop, s, clock);
    for (int i = 1; i <= 20; ++i)
        q->push(reading_of("a", clock.unix, i));
    clock.advance(half_flush);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == 20 && q->busy() == 0; }, 5s));
    clock.unix += 3'600'000; // a step of +1 h: the monotonic clock did not move
    for (int i = 21; i <= 25; ++i)
        q->push(reading_of("a", clock.unix, i));
    clock.advance(half_flush);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == 25 && q->busy() == 0; }, 5s));
    BOOST_TEST(q->stats().dropped == 0U);

    // Eleven minutes of real waiting: the first twenty are older than max_age now.
    clock.advance(std::chrono::minutes(11));
    for (int i = 26; i <= 27; ++i)
        q->push(reading_of("a", clock.unix, i));
    BOOST_REQUIRE(run_until(
        loop, [&] { return q->stats().dropped == 25U; }, 5s));

    // The step is kept in the file: a restart does not count it as waiting either.
    out.room = 100;
    q->on_ready([&] { q->pump(out); });
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    BOOST_TEST(out.seqs("a") == range(26, 27), boost::test_tools::per_element());
}

// After a clock step back, a gap's times still run forward: from_ts is its earliest, to_ts its
// latest.
BOOST_FIXTURE_TEST_CASE(a_gap_across_a_clock_step_back_keeps_from_ts_before_to_ts, on_file) {
    fake_outlet out;
    out.room = 100;
    out.refuse = {"a"};
    auto q = open_with(loop, s, clock);
    const auto t0 = clock.unix;
    q->push(reading_of("a", t0, 1));
    q->push(reading_of("a", t0 - 60'000, 2)); // taken after the clock went back a minute
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    check_one_gap(out.gaps(), "refused", 1, 2, t0 - 60'000, t0);
}

BOOST_FIXTURE_TEST_CASE(readings_older_than_max_age_go_as_max_age_gaps, on_file) {
    s.max_age = 300ms;
    fake_outlet out; // room 0, nobody pumps
    auto q = open_with(loop, s, clock);
    const auto t0 = clock.unix;
    for (int i = 1; i <= 20; ++i)
        q->push(reading_of("a", t0 + i, i));
    clock.advance(half_flush);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == 20; }, 5s));
    BOOST_TEST(q->stats().dropped == 0U);

    clock.advance(300ms); // the 20 are now older than max_age
    for (int i = 21; i <= 25; ++i)
        q->push(reading_of("a", clock.unix, i));
    BOOST_REQUIRE(run_until(
        loop, [&] { return q->stats().dropped == 20U; }, 5s));
    BOOST_TEST(q->stats().dropped_by_device.at("a") == 20U);
    clock.advance(half_flush);
    BOOST_REQUIRE(run_until(
        loop, [&] { return file.readings() == 5 && q->busy() == 0; }, 5s));
    BOOST_TEST(q->stats().dropped == 20U); // the young ones stay

    out.room = 100;
    q->on_ready([&] { q->pump(out); });
    BOOST_REQUIRE(deliver_everything(loop, *q, out, file));
    check_one_gap(out.gaps(), "max_age", 1, 20, t0 + 1, t0 + 20);
    BOOST_TEST(out.seqs("a") == range(21, 25), boost::test_tools::per_element());
}

// No file at start (here its directory is blocked; on a box, a full disk): nothing is
// reserved, so readings wait; once the file opens they take the numbers after the file's own.
// (Before, they were numbered from memory and published: seq 1 again for a device whose file
// already had it.)
BOOST_FIXTURE_TEST_CASE(readings_wait_for_a_file_that_cannot_be_opened_yet, mbtest::on_loop) {
    mbtest::temp_dir dir;
    auto s = mbtest::settings_in(dir);
    const auto home = dir.path / "buf";
    s.path = home / "buffer.db";
    manual_clock clock;
    {
        // An earlier run numbered "a" up to 3.
        auto q = open_with(loop, s, clock);
        for (int i = 1; i <= 3; ++i)
            q->push(reading_of("a", clock.unix, i));
        bool closed = false;
        q->close([&] { closed = true; });
        BOOST_REQUIRE(run_until(
            loop, [&] { return closed; }, 5s));
    }
    const auto aside = dir.path / "away";
    fs::rename(home, aside); // the directory gone, a regular file where it was
    std::ofstream(home) << "a regular file where the buffer's directory should be\n";
    fake_outlet out;
    out.room = 100;
    sqlite_queue q(loop, s, clock);
    q.open();
    BOOST_TEST(!q.error().empty());
    BOOST_TEST(q.stats().error == q.error());
    q.push(reading_of("a", clock.unix, 4));
    q.push(reading_of("a", clock.unix, 5));
    q.pump(out);
    BOOST_TEST(out.sent.empty()); // nothing reserved: nothing goes out
    BOOST_TEST(q.stats().held == 2U);

    // The way is clear again: the next try (every 5 s) opens the file, and what waits goes on
    // after the file's last seq.
    fs::remove(home);
    fs::rename(aside, home);
    clock.advance(sqlite_queue::retry_open_every);
    BOOST_REQUIRE(run_until(
        loop, [&] { return q.error().empty() && q.stats().held == 0; }, 5s));
    BOOST_REQUIRE(deliver_everything(loop, q, out, file_look{s.path}));
    BOOST_TEST(sorted(out.seqs("a")) == range(1, 5), boost::test_tools::per_element());
    for (const auto& r : out.readings())
        BOOST_TEST(tag_of(r) == double(r.seq));
    BOOST_TEST(q.push(reading_of("a", clock.unix, 6)) == 6U);
}

BOOST_AUTO_TEST_SUITE_END()
