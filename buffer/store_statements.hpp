#pragma once
// The buffer file's prepared statements (store.cpp, store_rebuild.cpp): one set per connection.
#include "buffer/sqlite_handle.hpp"
#include "buffer/store.hpp"

#include <fmt/format.h>

namespace mb::buffer {

struct store::statements {
    statements(sqlite3* db, std::int64_t vacuum_pages)
        : insert_reading(db, "INSERT OR IGNORE INTO items(id, device, seq, ts, kind, body, "
                             "received) VALUES(?, ?, ?, ?, 0, ?, ?)")
        , insert_gap(db, "INSERT OR IGNORE INTO items(id, device, seq, ts, kind, reason, to_seq, "
                         "to_ts, received) VALUES(?, ?, ?, ?, 1, ?, ?, ?, ?)")
        , erase(db, "DELETE FROM items WHERE id = ? RETURNING kind, device")
        , read_after(db, "SELECT id, device, seq, ts, kind, body, reason, to_seq, to_ts, "
                         "coalesce(received, ts) FROM items WHERE id > ? ORDER BY id LIMIT ?")
        , oldest(db, "SELECT id, device, seq, ts, coalesce(received, ts) FROM items WHERE kind = "
                     "0 AND id > ? ORDER BY id LIMIT ?")
        , oldest_ts(db, "SELECT ts FROM items WHERE kind = 0 ORDER BY id LIMIT 1")
        , open_gap(db, "SELECT id FROM items WHERE kind = 1 AND device = ? AND to_seq = ? AND "
                       "reason = ? AND id > ? ORDER BY id DESC LIMIT 1")
        , extend_gap(db, "UPDATE items SET to_seq = ?, ts = min(ts, ?), to_ts = max(to_ts, ?) "
                         "WHERE id = ?")
        , set_clock_shift(db, "UPDATE meta SET value = ? WHERE key = 'clock_shift'")
        , add_device(db, "INSERT INTO devices(name) VALUES(?) RETURNING id")
        , add_name(db, "INSERT INTO names(name) VALUES(?) RETURNING id")
        , reserve(db, "UPDATE devices SET reserved_from = CASE WHEN reserved_to < ? THEN "
                      "reserved_to + 1 ELSE reserved_from END, reserved_to = max(reserved_to, ?), "
                      "reserved_ts = ? WHERE id = ?")
        , written_up_to(db, "UPDATE devices SET last_seq = max(last_seq, ?) WHERE id = ?")
        , add_dropped(db, "UPDATE devices SET dropped = dropped + ? WHERE id = ?")
        , incremental_vacuum(db, fmt::format("PRAGMA incremental_vacuum({})", vacuum_pages))
        , checkpoint(db, "PRAGMA wal_checkpoint(TRUNCATE)")
        , page_count(db, "PRAGMA page_count")
        , freelist_count(db, "PRAGMA freelist_count")
        , close_device(db, "UPDATE devices SET last_seq = max(last_seq, ?), reserved_from = "
                           "max(last_seq, ?) + 1, reserved_to = max(last_seq, ?) WHERE id = ?") {}
    statement insert_reading, insert_gap, erase, read_after, oldest, oldest_ts, open_gap,
        extend_gap, set_clock_shift, add_device, add_name, reserve, written_up_to, add_dropped,
        incremental_vacuum, checkpoint, page_count, freelist_count, close_device;
};

} // namespace mb::buffer
