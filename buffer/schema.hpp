#pragma once
// The buffer file's schema (docs/buffer.md), versioned in SQLite's user_version and brought up
// to date by numbered migrations, each applied once, in order, in one transaction.
//
//   devices  one row per device that ever had a seq: its seq reservation
//            (reserved_from..reserved_to, made at reserved_ts), last_seq (the exact last seq
//            after a clean stop, else the highest seq written to disk), dropped (readings
//            dropped for max_size/max_age/refused, ever).
//   names    measurement names, so that a stored reading holds small ids, not strings.
//   items    what waits for a PUBACK, oldest first by id (AUTOINCREMENT: never reused).
//            kind 0 reading: body = values; kind 1 gap: reason, to_seq, to_ts (seq and ts
//            are its from_seq and from_ts).
//   meta     key/value: 'clean' = 1 after a clean stop, 0 while running; 'store_id', a
//            random number drawn when the file is made (a new file: seq starts again, and a
//            consumer can tell); 'clock_shift', the steps of the gateway's wall clock seen
//            so far (ms), which items.received leaves out.
//   (version 2) items.received: when the gateway took the item, on the gateway's clock less
//            clock_shift (max_age is the time an item waited here, not its meter's ts).
#include <sqlite3.h>

namespace mb::buffer {

inline constexpr int schema_version = 2;

enum class item_kind : int { reading = 0, gap = 1 };

// Applies the migrations the file lacks. Throws sqlite_error; throws newer_schema_error when
// the file comes from a newer meterbridge (its user_version is above schema_version).
void migrate(sqlite3* db);
// Applies migrations up to `version` only (tests start a file at version 1 this way).
void migrate_to(sqlite3* db, int version);

} // namespace mb::buffer
