// The read-only look into a buffer file (`meterbridge buffer`): per-device figures from a real
// file made by the schema's migrations, what a reader sees while a writer has the file open,
// and a clear error naming the path for a missing, garbage or newer file.
#include "buffer/inspect.hpp"
#include "buffer/schema.hpp"
#include "buffer/sqlite_handle.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;
using mb::buffer::inspect_buffer;
using mb::buffer::item_kind;
using mb::buffer::sqlite_ptr;
using mb::buffer::statement;

namespace {

struct inspect_dir {
    fs::path path;
    fs::path db;
    inspect_dir() {
        std::string tmpl = (fs::temp_directory_path() / "mbinspect-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
        db = path / "buffer.db";
    }
    ~inspect_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    inspect_dir(const inspect_dir&) = delete;
    inspect_dir& operator=(const inspect_dir&) = delete;

    // A buffer file as the daemon makes it: WAL mode, the schema's migrations.
    [[nodiscard]] sqlite_ptr open_writer() const {
        auto h = mb::buffer::open_sqlite(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        mb::buffer::exec(h.get(), "PRAGMA journal_mode=WAL");
        mb::buffer::migrate(h.get());
        return h;
    }
};

std::string bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void add_device(sqlite3* db, std::int64_t id, const std::string& name, std::int64_t last_seq,
                std::int64_t dropped) {
    statement(db, "INSERT INTO devices(id, name, last_seq, dropped) VALUES (?, ?, ?, ?)")
        .bind(1, id)
        .bind(2, name)
        .bind(3, last_seq)
        .bind(4, dropped)
        .run();
}

void add_reading(sqlite3* db, std::int64_t device, std::int64_t seq, std::int64_t ts) {
    statement(db, "INSERT INTO items(device, seq, ts, kind, body) VALUES (?, ?, ?, ?, ?)")
        .bind(1, device)
        .bind(2, seq)
        .bind(3, ts)
        .bind(4, static_cast<std::int64_t>(item_kind::reading))
        .bind_blob(5, std::string("\x01\x02\x03", 3))
        .run();
}

void add_gap(sqlite3* db, std::int64_t device, std::int64_t from_seq, std::int64_t to_seq,
             std::int64_t from_ts, std::int64_t to_ts) {
    statement(db, "INSERT INTO items(device, seq, ts, kind, reason, to_seq, to_ts) "
                  "VALUES (?, ?, ?, ?, 0, ?, ?)")
        .bind(1, device)
        .bind(2, from_seq)
        .bind(3, from_ts)
        .bind(4, static_cast<std::int64_t>(item_kind::gap))
        .bind(5, to_seq)
        .bind(6, to_ts)
        .run();
}

// meter-a: readings 6 and 7 (stored out of ts order), a gap 8..12; last_seq 5, 2 dropped.
// meter-b: readings 1..3, nothing recorded in last_seq yet. idle: no items, last_seq 40.
void fill(sqlite3* db) {
    mb::buffer::exec(db, "BEGIN");
    add_device(db, 1, "meter-a", 5, 2);
    add_device(db, 2, "meter-b", 0, 0);
    add_device(db, 3, "idle", 40, 7);
    add_reading(db, 1, 6, 1'700'000'001'000);
    add_reading(db, 1, 7, 1'700'000'000'500);
    add_gap(db, 1, 8, 12, 1'700'000'002'000, 1'700'000'006'000);
    for (std::int64_t s = 1; s <= 3; ++s)
        add_reading(db, 2, s, 1'700'000'010'000 + s);
    mb::buffer::exec(db, "COMMIT");
}

const mb::buffer::device_contents* find(const mb::buffer::inspect_result& r,
                                        const std::string& name) {
    for (const auto& d : r.devices)
        if (d.name == name) return &d;
    return nullptr;
}

} // namespace

BOOST_AUTO_TEST_SUITE(inspect)

BOOST_AUTO_TEST_CASE(per_device_figures_of_a_closed_file) {
    inspect_dir t;
    {
        auto w = t.open_writer();
        fill(w.get());
    } // closed: checkpointed, the WAL removed
    BOOST_REQUIRE(!fs::exists(t.db.string() + "-wal"));
    const auto before = bytes_of(t.db);

    const auto r = inspect_buffer(t.db);
    BOOST_TEST_REQUIRE(r.ok(), r.error);
    BOOST_TEST(!r.missing);
    BOOST_TEST(r.path == t.db);
    BOOST_TEST(r.schema_version == mb::buffer::schema_version);
    BOOST_TEST(r.db_bytes == fs::file_size(t.db));
    BOOST_TEST(r.wal_bytes == 0U);
    BOOST_REQUIRE(r.devices.size() == 3U);
    // By name.
    BOOST_TEST(r.devices[0].name == "idle");
    BOOST_TEST(r.devices[1].name == "meter-a");
    BOOST_TEST(r.devices[2].name == "meter-b");

    const auto* a = find(r, "meter-a");
    BOOST_TEST(a->readings == 2U);
    BOOST_TEST(a->gaps == 1U);
    BOOST_TEST(*a->oldest_ts == 1'700'000'000'500); // the oldest reading, not the first row
    BOOST_TEST(a->last_seq == 12U);                 // the stored gap's to_seq
    BOOST_TEST(a->dropped == 2U);

    const auto* b = find(r, "meter-b");
    BOOST_TEST(b->readings == 3U);
    BOOST_TEST(b->gaps == 0U);
    BOOST_TEST(*b->oldest_ts == 1'700'000'010'001);
    BOOST_TEST(b->last_seq == 3U); // above devices.last_seq (0)
    BOOST_TEST(b->dropped == 0U);

    const auto* idle = find(r, "idle");
    BOOST_TEST(idle->readings == 0U);
    BOOST_TEST(!idle->oldest_ts.has_value());
    BOOST_TEST(idle->last_seq == 40U);
    BOOST_TEST(idle->dropped == 7U);

    BOOST_TEST(r.readings == 5U);
    BOOST_TEST(r.gaps == 1U);
    BOOST_TEST(r.dropped == 9U);
    BOOST_TEST(*r.oldest_ts == 1'700'000'000'500);

    // Nothing was written, and no -wal or -shm was left beside a file nobody uses (one made
    // by root running `meterbridge buffer` would lock the daemon out of its own file).
    BOOST_TEST(bytes_of(t.db) == before);
    BOOST_TEST(!fs::exists(t.db.string() + "-wal"));
    BOOST_TEST(!fs::exists(t.db.string() + "-shm"));
}

BOOST_AUTO_TEST_CASE(a_file_in_use_shows_its_last_commit_including_the_wal) {
    inspect_dir t;
    auto w = t.open_writer();
    mb::buffer::exec(w.get(), "PRAGMA wal_autocheckpoint=0"); // the commits stay in the WAL
    fill(w.get());
    BOOST_REQUIRE(fs::file_size(t.db.string() + "-wal") > 0U);

    auto r = inspect_buffer(t.db);
    BOOST_TEST_REQUIRE(r.ok(), r.error);
    BOOST_TEST(r.readings == 5U);
    BOOST_TEST(r.wal_bytes == fs::file_size(t.db.string() + "-wal"));

    // A transaction the writer has not committed yet is not seen, and does not block.
    mb::buffer::exec(w.get(), "BEGIN IMMEDIATE");
    add_reading(w.get(), 2, 4, 1'700'000'020'000);
    r = inspect_buffer(t.db);
    BOOST_TEST_REQUIRE(r.ok(), r.error);
    BOOST_TEST(find(r, "meter-b")->readings == 3U);
    mb::buffer::exec(w.get(), "COMMIT");
    r = inspect_buffer(t.db);
    BOOST_TEST(find(r, "meter-b")->readings == 4U);
    BOOST_TEST(find(r, "meter-b")->last_seq == 4U);
}

BOOST_AUTO_TEST_CASE(a_fresh_file_is_empty) {
    inspect_dir t;
    t.open_writer().reset();
    const auto r = inspect_buffer(t.db);
    BOOST_TEST_REQUIRE(r.ok(), r.error);
    BOOST_TEST(r.devices.empty());
    BOOST_TEST(r.readings == 0U);
    BOOST_TEST(!r.oldest_ts.has_value());
}

BOOST_AUTO_TEST_CASE(an_empty_file_not_set_up_yet_holds_nothing) {
    inspect_dir t;
    std::ofstream(t.db).close(); // 0 bytes: SQLite's empty database
    const auto r = inspect_buffer(t.db);
    BOOST_TEST_REQUIRE(r.ok(), r.error);
    BOOST_TEST(r.schema_version == 0);
    BOOST_TEST(r.devices.empty());
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_missing_and_named) {
    inspect_dir t;
    const auto r = inspect_buffer(t.path / "nope" / "buffer.db");
    BOOST_TEST(r.missing);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.error == "no buffer file at " + (t.path / "nope" / "buffer.db").string());
    BOOST_TEST(!fs::exists(t.path / "nope")); // nothing created
}

BOOST_AUTO_TEST_CASE(garbage_is_an_error_naming_the_path) {
    inspect_dir t;
    std::ofstream(t.db) << std::string(8192, 'x');
    const auto r = inspect_buffer(t.db);
    BOOST_TEST(!r.ok());
    BOOST_TEST(!r.missing);
    BOOST_TEST(r.error.starts_with(t.db.string() + ": "), r.error);
    BOOST_TEST(r.error.find("not a buffer file") != std::string::npos, r.error);
    BOOST_TEST(r.devices.empty());
    BOOST_TEST(bytes_of(t.db) == std::string(8192, 'x')); // left as it was
}

BOOST_AUTO_TEST_CASE(a_newer_schema_is_an_error_naming_the_path_and_versions) {
    inspect_dir t;
    {
        auto w = t.open_writer();
        fill(w.get());
        mb::buffer::exec(w.get(), "PRAGMA user_version = 3");
    }
    const auto r = inspect_buffer(t.db);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.schema_version == 3);
    BOOST_TEST(r.error == t.db.string() +
                              ": schema version 3 is newer than this meterbridge knows (2); a "
                              "newer meterbridge wrote it",
               r.error);
    BOOST_TEST(r.devices.empty());
}

BOOST_AUTO_TEST_CASE(another_sqlite_database_is_not_a_buffer) {
    inspect_dir t;
    {
        auto w = mb::buffer::open_sqlite(t.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        mb::buffer::exec(w.get(), "CREATE TABLE photos(id INTEGER PRIMARY KEY)");
    }
    auto r = inspect_buffer(t.db);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.error.starts_with(t.db.string() + ": not a meterbridge buffer file"), r.error);

    // Its version set, its tables not ours: the query fails, the path is named.
    {
        auto w = mb::buffer::open_sqlite(t.db, SQLITE_OPEN_READWRITE);
        mb::buffer::exec(w.get(), "PRAGMA user_version = 1");
    }
    r = inspect_buffer(t.db);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.error.starts_with(t.db.string() + ": not a meterbridge buffer file"), r.error);
}

BOOST_AUTO_TEST_CASE(a_directory_is_not_a_file) {
    inspect_dir t;
    const auto r = inspect_buffer(t.path);
    BOOST_TEST(!r.ok());
    BOOST_TEST(!r.missing);
    BOOST_TEST(r.error == t.path.string() + ": not a file");
}

BOOST_AUTO_TEST_SUITE_END()
