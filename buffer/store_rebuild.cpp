// store: noticing that the file under it was lost (deleted, replaced, truncated) and making a
// new one from what the daemon knows and what can still be read (design: docs/buffer.md).
#include "buffer/sqlite_handle.hpp"
#include "buffer/store.hpp"
#include "buffer/store_statements.hpp"
#include "buffer/transaction.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <map>
#include <sys/stat.h>

namespace mb::buffer {

namespace fs = std::filesystem;

namespace {

struct looked {
    bool exists = false;
    std::uint64_t dev = 0, ino = 0, size = 0;
};

looked look_at(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return {};
    return {true, static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
            static_cast<std::uint64_t>(st.st_size)};
}

// seq runs of one device: the intervals of seqs found, merged as they come.
class seq_runs {
public:
    void add(std::uint64_t from, std::uint64_t to) {
        auto it = runs_.upper_bound(from);
        if (it != runs_.begin() && std::prev(it)->second + 1 >= from) {
            --it;
            it->second = std::max(it->second, to);
        } else {
            it = runs_.emplace(from, to).first;
        }
        for (auto next = std::next(it); next != runs_.end() && next->first <= it->second + 1;
             next = runs_.erase(next))
            it->second = std::max(it->second, next->second);
    }
    // The parts of lo..hi that no run covers.
    [[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint64_t>>
    missing(std::uint64_t lo, std::uint64_t hi) const {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
        auto at = lo;
        for (const auto& [from, to] : runs_) {
            if (to < at) continue;
            if (from > hi) break;
            if (from > at) out.emplace_back(at, from - 1);
            at = std::max(at, to + 1);
        }
        if (at <= hi) out.emplace_back(at, hi);
        return out;
    }

private:
    std::map<std::uint64_t, std::uint64_t> runs_;
};

// A connection about to be closed on a file that is no longer at its path: closing must not
// checkpoint into it nor delete the WAL and shared-memory files by name (they may be a new
// file's by then).
void close_quietly(sqlite_ptr& db) {
    if (!db) return;
    int persist = 1;
    sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    db.reset();
}

} // namespace

void store::note_file() {
    const auto f = look_at(settings_.path);
    file_id_ = {f.dev, f.ino};
    file_bytes_seen_ = f.size;
    const auto w = look_at(settings_.path.string() + "-wal");
    wal_id_ = w.exists ? file_identity{w.dev, w.ino} : file_identity{};
}

void store::check_file() {
    const auto path = settings_.path.string();
    const auto f = look_at(settings_.path);
    if (!f.exists) throw file_lost_error(fmt::format("{} was deleted", path));
    if (file_identity{f.dev, f.ino} != file_id_)
        throw file_lost_error(fmt::format("{} was replaced by another file", path));
    // The file only ever shrinks by this store's own vacuum, after which note_file() looks.
    if (f.size < file_bytes_seen_)
        throw file_lost_error(
            fmt::format("{} was truncated (from {} to {} bytes)", path, file_bytes_seen_, f.size));
    if (wal_id_ != file_identity{}) {
        const auto w = look_at(path + "-wal");
        if (!w.exists || file_identity{w.dev, w.ino} != wal_id_)
            throw file_lost_error(fmt::format("{}-wal was {}", path,
                                              w.exists ? "replaced by another file" : "deleted"));
    }
    file_bytes_seen_ = f.size;
}

void store::take_connection(store& from) {
    st_ = std::move(from.st_);
    db_ = std::move(from.db_);
    devices_ = std::move(from.devices_);
    codec_ = std::move(from.codec_);
    census_ = from.census_;
    readings_ = from.readings_;
    page_size_ = from.page_size_;
    limits_ = from.limits_;
    file_id_ = from.file_id_;
    wal_id_ = from.wal_id_;
    file_bytes_seen_ = from.file_bytes_seen_;
}

void store::discard_new_file() {
    st_.reset();
    db_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        fs::remove(settings_.path.string() + suffix, ec);
    }
}

rebuild_report store::rebuild(const rebuild_request& req) {
    // The lost file stays readable through the connection still open on it (a deleted or
    // replaced file lives on while open). A new `store` takes it over, so that this one can
    // make the fresh file at the path.
    store lost(settings_);
    struct close_lost { // never a checkpoint into it, nor a delete by its names
        store& s;
        explicit close_lost(store& lost_store)
            : s(lost_store) {}
        close_lost(const close_lost&) = delete;
        close_lost& operator=(const close_lost&) = delete;
        ~close_lost() {
            s.st_.reset();
            close_quietly(s.db_);
        }
    } closing{lost};
    lost.take_connection(*this);
    bool made = false;
    try {
        return rebuild_from(lost, req, made);
    } catch (...) {
        // No new file (a full disk, say): this store goes on with the lost one, which still
        // holds what it held while the daemon runs; the next flush finds it lost and tries
        // again. What was half made at the path is this store's own and goes.
        if (made) discard_new_file();
        take_connection(lost);
        throw;
    }
}

rebuild_report store::rebuild_from(store& lost, const rebuild_request& req, bool& made) {
    rebuild_report report;
    report.moved_aside = clear_path();
    made = true;
    open_file();
    report.store_id =
        static_cast<std::uint64_t>(query_int(db_.get(), "SELECT value FROM meta WHERE key = "
                                                        "'store_id'"));

    std::map<std::string, seq_runs> found;
    std::int64_t top_id = req.keep_upto;
    auto keep = [&](const stored_item& row) {
        const auto& device = device_of(row.what);
        const auto* g = std::get_if<model::gap>(&row.what);
        found[device].add(g != nullptr ? g->from_seq : last_seq_of(row.what),
                          last_seq_of(row.what));
        top_id = std::max(top_id, row.id);
        if (insert(row.what, row.received, row.id) == row.id) ++report.copied;
    };
    transaction tx(db_.get(), census_);
    for (const auto& row : req.in_memory)
        keep(row);
    try {
        for (std::int64_t after = 0;;) {
            const auto rows = lost.read_after(after, 4096);
            if (rows.empty()) break;
            for (const auto& row : rows)
                keep(row);
            after = rows.back().id;
        }
    } catch (const std::exception& e) {
        report.read_error = e.what();
    }
    // What the lost file held and could not be read back is gone: said so, device by device,
    // with the seqs it may have held.
    if (!report.read_error.empty()) {
        for (const auto& [device_id, held] : lost.census_.devices()) {
            const auto* name = lost.devices_.word(device_id);
            if (name == nullptr || held.items == 0) continue;
            for (const auto& [from, to] : found[*name].missing(held.lo, held.hi)) {
                model::gap g{*name, model::gap_reason::file_lost, from, to, req.now_ms, req.now_ms};
                top_id = std::max(top_id, insert(g, 0));
                report.lost.push_back(std::move(g));
            }
        }
    }
    carry_state(req, top_id);
    tx.commit();
    note_file();
    return report;
}

std::string store::clear_path() const {
    // What is left at the path (the replacing file, the truncated one, a WAL or shared-memory
    // file of ours) goes aside: a fresh file must not meet any of it.
    const auto aside = settings_.path.string() + ".lost-" + aside_stamp();
    std::string moved;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const fs::path from = settings_.path.string() + suffix;
        std::error_code ec;
        if (!fs::exists(from, ec)) continue;
        fs::rename(from, aside + suffix, ec);
        if (ec)
            throw sqlite_error(SQLITE_CANTOPEN, fmt::format("cannot move {} aside: {}",
                                                            from.string(), ec.message()));
        if (*suffix == '\0') moved = aside;
    }
    return moved;
}

void store::carry_state(const rebuild_request& req, std::int64_t top_id) {
    // The daemon's seqs, reserved again, and its drop counts: seq goes on where it was.
    statement carry(db_.get(), "UPDATE devices SET last_seq = ?, reserved_from = ?, reserved_to "
                               "= ?, reserved_ts = ?, dropped = ? WHERE id = ?");
    for (const auto& [name, d] : req.devices) {
        const auto to = std::max(d.reserve_to, d.last);
        carry.bind(1, static_cast<std::int64_t>(d.last))
            .bind(2, static_cast<std::int64_t>(d.last + 1))
            .bind(3, static_cast<std::int64_t>(to))
            .bind(4, req.now_ms)
            .bind(5, static_cast<std::int64_t>(d.dropped))
            .bind(6, device_id(name))
            .run();
    }
    // New ids go on above every id the queue knows, as AUTOINCREMENT would have.
    exec(db_.get(), "DELETE FROM sqlite_sequence WHERE name = 'items'");
    statement sequence(db_.get(), "INSERT INTO sqlite_sequence(name, seq) VALUES('items', ?)");
    sequence.bind(1, top_id).run();
    statement shift(db_.get(), "UPDATE meta SET value = ? WHERE key = 'clock_shift'");
    shift.bind(1, req.clock_shift).run();
    exec(db_.get(), "UPDATE meta SET value = 0 WHERE key = 'clean'");
}

} // namespace mb::buffer
