#include "buffer/store.hpp"

#include "buffer/gap_runs.hpp"
#include "buffer/schema.hpp"
#include "buffer/store_statements.hpp"
#include "buffer/transaction.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fmt/format.h>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace mb::buffer {

namespace fs = std::filesystem;

namespace {

bool unusable(int code) {
    return code == SQLITE_CORRUPT || code == SQLITE_NOTADB || code == SQLITE_MISMATCH ||
           code == SQLITE_FORMAT;
}

std::uint64_t file_size_or_zero(const fs::path& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

} // namespace

std::string aside_stamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::array<char, 32> buf{};
    const auto n = std::strftime(buf.data(), buf.size(), "%Y%m%dT%H%M%SZ", &tm);
    return {buf.data(), n};
}

store::store(buffer_settings settings)
    : settings_(std::move(settings)) {}

store::~store() = default;

void store::open_file() {
    st_.reset();
    // Readings and credentials' neighbours: not for every user of the box, whatever the umask
    // of whoever started the daemon. SQLite gives the WAL and shared-memory files the mode of
    // the database file.
    if (const int fd = ::open(settings_.path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
                              S_IRUSR | S_IWUSR);
        fd >= 0)
        ::close(fd);
    db_ = open_sqlite(settings_.path,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
    sqlite3* db = db_.get();
    sqlite3_busy_timeout(db, 5000);               // `meterbridge buffer` may be reading
    exec(db, "PRAGMA auto_vacuum = INCREMENTAL"); // takes effect on a new file only
    {
        statement wal(db, "PRAGMA journal_mode = WAL");
        if (!wal.step() || wal.text(0) != "wal")
            throw sqlite_error(SQLITE_CANTOPEN, "cannot switch to WAL mode");
        wal.reset();
    }
    exec(db, settings_.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    migrate(db);
    page_size_ = query_int(db, "PRAGMA page_size");
    limits_ = limits(settings_.max_size, settings_.max_age, page_size_);
    // Keep the WAL small next to max_size: checkpoint and truncate at its budget.
    const auto wal_pages = limits_.wal_pages();
    exec(db, fmt::format("PRAGMA wal_autocheckpoint = {}", wal_pages).c_str());
    exec(db, fmt::format("PRAGMA journal_size_limit = {}", wal_pages * page_size_).c_str());
    st_ = std::make_unique<statements>(db, std::max<std::int64_t>(wal_pages / 4, 1));

    devices_.load(db, "SELECT id, name FROM devices");
    codec_.clear();
    statement names(db, "SELECT id, name FROM names");
    while (names.step())
        codec_.learn(names.int64(0), names.text(1));
    readings_ =
        static_cast<std::uint64_t>(query_int(db, "SELECT count(*) FROM items WHERE kind = 0"));
    std::map<std::int64_t, file_census::counts> census;
    statement per_device(db, "SELECT device, count(*), min(seq), max(coalesce(to_seq, seq)) FROM "
                             "items GROUP BY device");
    while (per_device.step())
        census[per_device.int64(0)] = {static_cast<std::uint64_t>(per_device.int64(1)),
                                       static_cast<std::uint64_t>(per_device.int64(2)),
                                       static_cast<std::uint64_t>(per_device.int64(3))};
    census_.reset(std::move(census));
    note_file();
}

void store::move_aside(const std::string& why, open_report& report) {
    st_.reset();
    db_.reset();
    const fs::path aside = settings_.path.string() + ".corrupt-" + aside_stamp();
    fs::rename(settings_.path, aside); // throws filesystem_error naming both paths
    for (const char* suffix : {"-wal", "-shm"}) {
        const fs::path side = settings_.path.string() + suffix;
        std::error_code ec;
        if (fs::exists(side, ec)) fs::rename(side, aside.string() + suffix, ec);
    }
    report.moved_aside = aside.string();
    report.why_moved = why;
}

// Looks at an existing file through a read-only connection first: closing a read-write
// connection to a broken file would fold its WAL in, or delete it, and the WAL is part of
// what is moved aside.
void store::probe() const {
    std::error_code ec;
    if (fs::file_size(settings_.path, ec) == 0 || ec) return; // nothing there yet
    const auto db = open_sqlite(settings_.path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    sqlite3_busy_timeout(db.get(), 5000);
    if (const auto v = query_int(db.get(), "PRAGMA user_version"); v > schema_version)
        throw newer_schema_error(fmt::format(
            "schema version {} is newer than this meterbridge knows ({})", v, schema_version));
    statement check(db.get(), "PRAGMA quick_check");
    if (check.step() && check.text(0) != "ok")
        throw sqlite_error(SQLITE_CORRUPT, fmt::format("quick_check: {}", check.text(0)));
}

open_report store::open(std::int64_t now_ms) {
    open_report report;
    const auto dir = settings_.path.parent_path();
    if (std::error_code ec; !dir.empty() && !fs::is_directory(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec)
            throw sqlite_error(SQLITE_CANTOPEN, fmt::format("cannot create the directory {}: {}",
                                                            dir.string(), ec.message()));
    }
    try {
        probe();
        open_file();
    } catch (const sqlite_error& e) {
        if (!unusable(e.code())) {
            st_.reset();
            db_.reset();
            throw;
        }
        move_aside(e.what(), report);
        open_file();
    }
    sqlite3* db = db_.get();
    report.unclean = query_int(db, "SELECT value FROM meta WHERE key = 'clean'") == 0;
    transaction tx(db, census_);
    if (report.unclean) announce_restart(now_ms, report);
    exec(db, "UPDATE meta SET value = 0 WHERE key = 'clean'");
    tx.commit();
    report.store_id =
        static_cast<std::uint64_t>(query_int(db, "SELECT value FROM meta WHERE key = 'store_id'"));
    report.clock_shift = query_int(db, "SELECT value FROM meta WHERE key = 'clock_shift'");
    report.last_received = query_int(db, "SELECT coalesce(max(received), 0) FROM (SELECT "
                                         "received FROM items ORDER BY id DESC LIMIT 64)");
    statement devices(db, "SELECT name, max(last_seq, reserved_to), dropped FROM devices");
    while (devices.step())
        report.devices[std::string(devices.text(0))] = {
            static_cast<std::uint64_t>(devices.int64(1)),
            static_cast<std::uint64_t>(devices.int64(2))};
    return report;
}

void store::announce_restart(std::int64_t now_ms, open_report& report) {
    // Numbers above what reached the disk and up to the reservation may have been handed out
    // (and delivered, or lost with the memory): one gap says so; seq continues above it.
    statement pending(db_.get(), "SELECT id, name, last_seq, reserved_to, reserved_ts FROM "
                                 "devices WHERE reserved_to > last_seq");
    std::vector<std::pair<std::int64_t, model::gap>> gaps;
    while (pending.step()) {
        model::gap g{std::string(pending.text(1)),
                     model::gap_reason::restart,
                     static_cast<std::uint64_t>(pending.int64(2)) + 1,
                     static_cast<std::uint64_t>(pending.int64(3)),
                     pending.int64(4),
                     now_ms};
        gaps.emplace_back(pending.int64(0), std::move(g));
    }
    for (const auto& [id, g] : gaps) {
        insert(g, 0);
        st_->written_up_to.bind(1, static_cast<std::int64_t>(g.to_seq)).bind(2, id).run();
    }
    report.restart_gaps = gaps.size();
}

void store::interned::load(sqlite3* db, const char* sql) {
    ids.clear();
    words.clear();
    statement rows(db, sql);
    while (rows.step()) {
        ids.emplace(rows.text(1), rows.int64(0));
        words.emplace(rows.int64(0), rows.text(1));
    }
}

std::int64_t store::interned::id(const std::string& word, statement& add) {
    if (const auto it = ids.find(word); it != ids.end()) return it->second;
    add.bind(1, word);
    if (!add.step()) throw sqlite_error(SQLITE_ERROR, "cannot add " + word);
    const auto id = add.int64(0);
    add.reset();
    ids.emplace(word, id);
    words.emplace(id, word);
    return id;
}

const std::string* store::interned::word(std::int64_t id) const {
    const auto it = words.find(id);
    return it == words.end() ? nullptr : &it->second;
}

std::int64_t store::device_id(const std::string& name) {
    return devices_.id(name, st_->add_device);
}

std::string store::encode(const model::reading& r) {
    for (const auto& v : r.values) {
        if (codec_.number_of(v.id)) continue;
        const auto name = model::name_of(v.id);
        auto& add = st_->add_name;
        add.bind(1, name);
        if (!add.step()) throw sqlite_error(SQLITE_ERROR, fmt::format("cannot add {}", name));
        codec_.learn(add.int64(0), name);
        add.reset();
    }
    return codec_.encode(r.values);
}

model::reading store::decode(std::int64_t device, std::uint64_t seq, std::int64_t ts,
                             std::string_view body) {
    model::reading r;
    const auto* dev = devices_.word(device);
    if (dev == nullptr) throw sqlite_error(SQLITE_CORRUPT, "a reading of no device");
    r.device = *dev;
    r.seq = seq;
    r.ts_ms = ts;
    auto decoded = codec_.decode(body);
    r.values = std::move(decoded.values);
    if (decoded.unknown > 0 && !std::exchange(unknown_names_warned_, true))
        log::warn("buffer: {} value(s) of {} seq {} are under names this version does not know "
                  "(a file written by a newer meterbridge): left out, as any more such values",
                  decoded.unknown, r.device, seq);
    return r;
}

std::int64_t store::insert(const item& i, std::int64_t received, std::int64_t id) {
    auto& s = std::holds_alternative<model::reading>(i) ? st_->insert_reading : st_->insert_gap;
    if (id != 0) {
        s.bind(1, id);
    } else {
        s.bind_null(1);
    }
    const auto device = device_id(device_of(i));
    if (const auto* r = std::get_if<model::reading>(&i)) {
        const auto body = encode(*r);
        st_->insert_reading.bind(2, device)
            .bind(3, static_cast<std::int64_t>(r->seq))
            .bind(4, r->ts_ms)
            .bind_blob(5, body)
            .bind(6, received)
            .run();
    } else {
        const auto& g = std::get<model::gap>(i);
        st_->insert_gap.bind(2, device)
            .bind(3, static_cast<std::int64_t>(g.from_seq))
            .bind(4, g.from_ts)
            .bind(5, static_cast<std::int64_t>(g.reason))
            .bind(6, static_cast<std::int64_t>(g.to_seq))
            .bind(7, g.to_ts);
        if (received != 0) {
            st_->insert_gap.bind(8, received);
        } else {
            st_->insert_gap.bind_null(8);
        }
        st_->insert_gap.run();
    }
    if (sqlite3_changes(db_.get()) == 0) return id; // that id is there already
    if (std::holds_alternative<model::reading>(i)) ++readings_;
    const auto* g = std::get_if<model::gap>(&i);
    census_.added(device, g != nullptr ? g->from_seq : last_seq_of(i), last_seq_of(i));
    return sqlite3_last_insert_rowid(db_.get());
}

std::vector<std::int64_t> store::write(const flush_batch& batch) {
    const auto readings_before = readings_;
    std::vector<std::int64_t> ids;
    ids.reserve(batch.inserts.size());
    try {
        transaction tx(db_.get(), census_);
        std::map<std::int64_t, std::uint64_t> written; // device id -> highest seq
        for (std::size_t n = 0; n < batch.inserts.size(); ++n) {
            const auto& i = batch.inserts[n];
            const auto* r = std::get_if<model::reading>(&i);
            const std::int64_t fallback = r != nullptr ? r->ts_ms : 0; // taken when measured
            ids.push_back(insert(i, n < batch.received.size() ? batch.received[n] : fallback));
            const auto dev = device_id(device_of(i));
            auto& top = written[dev];
            top = std::max(top, last_seq_of(i));
        }
        for (const auto& [dev, seq] : written)
            st_->written_up_to.bind(1, static_cast<std::int64_t>(seq)).bind(2, dev).run();
        for (const auto id : batch.deletes) {
            auto& s = st_->erase;
            s.bind(1, id);
            if (s.step()) {
                if (s.int64(0) == static_cast<std::int64_t>(item_kind::reading)) --readings_;
                census_.removed(s.int64(1));
                s.reset();
            }
        }
        for (const auto& r : batch.reservations) {
            const auto to = static_cast<std::int64_t>(r.to);
            st_->reserve.bind(1, to).bind(2, to).bind(3, r.ts).bind(4, device_id(r.device)).run();
        }
        for (const auto& [device, n] : batch.dropped)
            st_->add_dropped.bind(1, static_cast<std::int64_t>(n)).bind(2, device_id(device)).run();
        if (batch.clock_shift) st_->set_clock_shift.bind(1, *batch.clock_shift).run();
        tx.commit();
    } catch (...) {
        readings_ = readings_before;
        throw;
    }
    return ids;
}

std::vector<stored_item> store::read_after(std::int64_t after, std::size_t limit) {
    std::vector<stored_item> out;
    out.reserve(limit);
    auto& s = st_->read_after;
    s.bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    while (s.step()) {
        const auto id = s.int64(0);
        const auto device = s.int64(1);
        const auto seq = static_cast<std::uint64_t>(s.int64(2));
        const auto ts = s.int64(3);
        const auto received = s.int64(9);
        if (s.int64(4) == static_cast<std::int64_t>(item_kind::reading)) {
            out.push_back({id, decode(device, seq, ts, s.blob(5)), received});
            continue;
        }
        const auto* dev = devices_.word(device);
        model::gap g;
        g.device = dev != nullptr ? *dev : std::string("?");
        g.reason = static_cast<model::gap_reason>(std::clamp<std::int64_t>(
            s.int64(6), 0, static_cast<std::int64_t>(model::gap_reason::file_lost)));
        g.from_seq = seq;
        g.to_seq = static_cast<std::uint64_t>(s.int64(7));
        g.from_ts = ts;
        g.to_ts = s.int64(8);
        out.push_back({id, std::move(g), received});
    }
    return out;
}

void store::record_gap(const model::gap& g, std::int64_t keep_upto) {
    // A run that continues one not yet loaded for replay extends it: one message, not many.
    auto& open = st_->open_gap;
    open.bind(1, device_id(g.device))
        .bind(2, static_cast<std::int64_t>(g.from_seq) - 1)
        .bind(3, static_cast<std::int64_t>(g.reason))
        .bind(4, keep_upto);
    if (open.step()) {
        const auto id = open.int64(0);
        open.reset();
        st_->extend_gap.bind(1, static_cast<std::int64_t>(g.to_seq))
            .bind(2, g.from_ts)
            .bind(3, g.to_ts)
            .bind(4, id)
            .run();
        return;
    }
    insert(g, 0);
}

std::uint64_t store::drop_oldest(model::gap_reason why, std::int64_t keep_upto,
                                 const std::vector<std::int64_t>& keep,
                                 std::int64_t received_before, std::uint64_t max_rows,
                                 drop_counts& counts) {
    drop_pick pick(received_before, keep);
    auto& s = st_->oldest;
    s.bind(1, keep_upto).bind(2, static_cast<std::int64_t>(max_rows));
    while (s.step()) {
        if (!pick.offer({s.int64(0), s.int64(1), static_cast<std::uint64_t>(s.int64(2)), s.int64(3),
                         s.int64(4)})) {
            s.reset();
            break;
        }
    }
    const auto& rows = pick.rows();
    if (rows.empty()) return 0;

    transaction tx(db_.get(), census_);
    gap_runs runs;
    const auto gap_of = [&](const seq_run& run) {
        return model::gap{
            *devices_.word(run.device), why, run.from_seq, run.to_seq, run.from_ts, run.to_ts};
    };
    for (const auto& r : rows) {
        st_->erase.bind(1, r.id);
        while (st_->erase.step()) {
        }
        --readings_;
        census_.removed(r.device);
        if (const auto done = runs.add(r)) record_gap(gap_of(*done), keep_upto);
    }
    for (const auto& run : runs.open_runs())
        record_gap(gap_of(run), keep_upto);
    for (const auto& [dev, n] : runs.per_device()) {
        st_->add_dropped.bind(1, static_cast<std::int64_t>(n)).bind(2, dev).run();
        counts[*devices_.word(dev)] += n;
    }
    tx.commit();
    return rows.size();
}

std::int64_t store::pragma(statement& s) {
    const auto v = s.step() ? s.int64(0) : 0;
    s.reset();
    return v;
}

std::uint64_t store::used_bytes() {
    const auto pages = pragma(st_->page_count);
    const auto free = pragma(st_->freelist_count);
    return static_cast<std::uint64_t>((pages - free) * page_size_);
}

std::uint64_t store::file_bytes() const {
    return file_size_or_zero(settings_.path) + file_size_or_zero(settings_.path.string() + "-wal");
}

drop_counts store::enforce_limits(std::int64_t received_now, std::int64_t keep_upto,
                                  const std::vector<std::int64_t>& keep) {
    drop_counts counts;
    const auto cutoff = limits_.age_cutoff(received_now);
    while (drop_oldest(model::gap_reason::max_age, keep_upto, keep, cutoff, limits::age_batch,
                       counts) > 0) {
    }
    // The WAL is checkpointed at its budget (open_file); the rest is decided on the pages in
    // use (limits).
    if (!limits_.over_size(used_bytes(), file_bytes())) return counts;
    compact(true);
    constexpr auto any_ts = std::numeric_limits<std::int64_t>::max();
    while (limits_.above_target(used_bytes())) {
        const auto step = limits_.size_step(used_bytes(), readings_);
        if (drop_oldest(model::gap_reason::max_size, keep_upto, keep, any_ts, step, counts) == 0)
            break;
        compact(true);
    }
    return counts;
}

void store::compact(bool force) {
    const auto pages = pragma(st_->page_count);
    const auto free = pragma(st_->freelist_count);
    const bool worth_it = free >= std::max<std::int64_t>(64, pages / 4);
    if (!force && !worth_it) return;
    // In steps the WAL can hold (a vacuum rewrites the pages it moves), each folded into the
    // file and truncated at once, so that file and WAL together only ever shrink.
    for (auto left = free; left > 0; left = pragma(st_->freelist_count)) {
        st_->incremental_vacuum.run();
        st_->checkpoint.run();
        if (pragma(st_->freelist_count) >= left) break; // nothing moved (a reader holds the WAL)
    }
    st_->checkpoint.run();
}

void store::close_clean(const std::map<std::string, std::uint64_t>& last_seq) {
    {
        transaction tx(db_.get(), census_);
        for (const auto& [device, seq] : last_seq) {
            const auto s = static_cast<std::int64_t>(seq);
            st_->close_device.bind(1, s).bind(2, s).bind(3, s).bind(4, device_id(device)).run();
        }
        exec(db_.get(), "UPDATE meta SET value = 1 WHERE key = 'clean'");
        tx.commit();
    }
    compact(true);
    st_.reset();
    db_.reset();
}

store_figures store::figures() {
    store_figures f;
    f.readings = readings_;
    auto& s = st_->oldest_ts;
    if (s.step()) {
        f.oldest_ts = s.int64(0);
        s.reset();
    }
    f.file_bytes = file_bytes();
    return f;
}

} // namespace mb::buffer
