#include "buffer/inspect.hpp"

#include "buffer/schema.hpp"
#include "buffer/sqlite_handle.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <system_error>

namespace mb::buffer {
namespace {

// A reader waits this long for a lock the daemon holds briefly (WAL recovery, a checkpoint
// that truncates) before it reports the file busy.
constexpr int busy_timeout_ms = 3000;

// One pass over items (no index on device): per device, readings, oldest reading, gaps and
// the highest seq stored (a gap's to_seq included).
constexpr const char* items_sql = R"sql(
SELECT device,
       sum(kind = 0),
       min(CASE WHEN kind = 0 THEN ts END),
       sum(kind = 1),
       max(max(seq, coalesce(to_seq, seq)))
FROM items GROUP BY device)sql";

constexpr const char* devices_sql = "SELECT id, name, last_seq, dropped FROM devices";

std::string uri_escaped(const std::string& path) {
    std::string out;
    for (const char c : path) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
            c == '/' || c == '.' || c == '_' || c == '-' || c == '~')
            out += c;
        else
            out += fmt::format("%{:02X}", u);
    }
    return out;
}

std::uintmax_t size_or_zero(const std::filesystem::path& p) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(p, ec);
    return ec ? 0 : n;
}

std::filesystem::path with_suffix(const std::filesystem::path& p, const char* suffix) {
    auto s = p.native();
    s += suffix;
    return s;
}

// With no -wal beside it the file holds everything (a clean stop checkpoints and removes the
// WAL), and it is opened immutable: a read-only connection would otherwise create -wal and
// -shm, owned by whoever runs this (root, say), which the daemon then could not write.
sqlite_ptr open_read_only(const std::filesystem::path& path) {
    const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
    std::error_code ec; // when unsure, not immutable: the WAL may hold the newest commits
    const bool has_wal = std::filesystem::exists(with_suffix(path, "-wal"), ec) || ec;
    auto uri = "file:" + uri_escaped(std::filesystem::absolute(path).string());
    if (!has_wal) uri += "?immutable=1";
    return open_sqlite(uri, flags);
}

void read_contents(sqlite3* db, inspect_result& r) {
    struct stored {
        std::uint64_t readings = 0;
        std::optional<std::int64_t> oldest_ts;
        std::uint64_t gaps = 0;
        std::int64_t max_seq = 0;
    };
    std::map<std::int64_t, stored> by_id;
    statement items(db, items_sql);
    while (items.step()) {
        auto& s = by_id[items.int64(0)];
        s.readings = static_cast<std::uint64_t>(items.int64(1));
        if (!items.is_null(2)) s.oldest_ts = items.int64(2);
        s.gaps = static_cast<std::uint64_t>(items.int64(3));
        s.max_seq = items.int64(4);
    }
    statement devices(db, devices_sql);
    while (devices.step()) {
        device_contents d;
        d.name = devices.text(1);
        auto last = devices.int64(2);
        d.dropped = static_cast<std::uint64_t>(devices.int64(3));
        if (const auto it = by_id.find(devices.int64(0)); it != by_id.end()) {
            d.readings = it->second.readings;
            d.oldest_ts = it->second.oldest_ts;
            d.gaps = it->second.gaps;
            last = std::max(last, it->second.max_seq);
            by_id.erase(it);
        }
        d.last_seq = static_cast<std::uint64_t>(std::max<std::int64_t>(last, 0));
        r.devices.push_back(std::move(d));
    }
    // Items of a device row that is not there (the daemon never writes that): shown, not lost.
    for (const auto& [id, s] : by_id) {
        r.devices.push_back({fmt::format("(device id {})", id), s.readings, s.oldest_ts,
                             static_cast<std::uint64_t>(std::max<std::int64_t>(s.max_seq, 0)), 0,
                             s.gaps});
    }
    std::sort(r.devices.begin(), r.devices.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    for (const auto& d : r.devices) {
        r.readings += d.readings;
        r.gaps += d.gaps;
        r.dropped += d.dropped;
        if (d.oldest_ts && (!r.oldest_ts || *d.oldest_ts < *r.oldest_ts)) r.oldest_ts = d.oldest_ts;
    }
}

std::string sqlite_reason(sqlite3* db, const sqlite_error& e) {
    const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(e.code());
    switch (e.code()) {
    case SQLITE_NOTADB:
        return fmt::format("not a buffer file: {}", msg);
    case SQLITE_CORRUPT:
        return fmt::format("the file is corrupt: {}", msg);
    case SQLITE_ERROR: // a query of the schema failed: tables missing or different
        return fmt::format("not a meterbridge buffer file: {}", msg);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return fmt::format("cannot open it: {}", msg);
    default:
        return msg;
    }
}

void read_file(const std::filesystem::path& path, inspect_result& r) {
    sqlite_ptr db;
    try {
        db = open_read_only(path);
        sqlite3_busy_timeout(db.get(), busy_timeout_ms);
        // One read transaction: the counts and the devices come from the same commit.
        exec(db.get(), "BEGIN");
        r.schema_version = static_cast<int>(query_int(db.get(), "PRAGMA user_version"));
        if (r.schema_version > schema_version) {
            r.error = fmt::format("{}: schema version {} is newer than this meterbridge knows "
                                  "({}); a newer meterbridge wrote it",
                                  path.string(), r.schema_version, schema_version);
            return;
        }
        if (r.schema_version == 0) {
            // An empty file (the daemon has not set it up yet) holds nothing; anything else
            // without a version is some other SQLite database.
            if (query_int(db.get(), "SELECT count(*) FROM sqlite_master") != 0)
                r.error = fmt::format("{}: not a meterbridge buffer file (an SQLite database "
                                      "without its schema version)",
                                      path.string());
            return;
        }
        read_contents(db.get(), r);
        exec(db.get(), "COMMIT");
    } catch (const sqlite_error& e) {
        r.devices.clear();
        r.readings = r.gaps = r.dropped = 0;
        r.oldest_ts.reset();
        r.error = fmt::format("{}: {}", path.string(), sqlite_reason(db.get(), e));
    }
}

} // namespace

inspect_result inspect_buffer(const std::filesystem::path& path) {
    inspect_result r;
    try {
        r.path = path;
        std::error_code ec;
        const auto st = std::filesystem::status(path, ec);
        if (st.type() == std::filesystem::file_type::not_found) {
            r.missing = true;
            r.error = fmt::format("no buffer file at {}", path.string());
            return r;
        }
        if (ec) {
            r.error = fmt::format("{}: cannot read it: {}", path.string(), ec.message());
            return r;
        }
        if (st.type() != std::filesystem::file_type::regular) {
            r.error = fmt::format("{}: not a file", path.string());
            return r;
        }
        read_file(path, r);
        r.db_bytes = size_or_zero(path);
        r.wal_bytes = size_or_zero(with_suffix(path, "-wal"));
    } catch (const std::exception& e) {
        r.error = fmt::format("{}: {}", path.string(), e.what());
    } catch (...) {
        r.error = path.string() + ": unknown error";
    }
    return r;
}

} // namespace mb::buffer
