#include "buffer/schema.hpp"

#include "buffer/sqlite_handle.hpp"

#include <array>
#include <fmt/format.h>
#include <string>

namespace mb::buffer {
namespace {

// migrations[i] takes a file from version i to version i + 1. Never edit a shipped one: add.
constexpr std::array<const char*, schema_version> migrations{
    // 1: the first schema.
    R"sql(
CREATE TABLE devices(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    reserved_from INTEGER NOT NULL DEFAULT 0,
    reserved_to INTEGER NOT NULL DEFAULT 0,
    reserved_ts INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0);
CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE items(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    body BLOB,
    reason INTEGER,
    to_seq INTEGER,
    to_ts INTEGER);
CREATE INDEX gaps ON items(device, to_seq) WHERE kind = 1;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES ('clean', 1);
)sql",
    // 2: the time each item was taken, the store's id and the clock's steps.
    R"sql(
ALTER TABLE items ADD COLUMN received INTEGER;
INSERT INTO meta(key, value) VALUES ('store_id', abs(random() >> 1));
INSERT INTO meta(key, value) VALUES ('clock_shift', 0);
)sql",
};

} // namespace

void migrate_to(sqlite3* db, int version) {
    const auto at = static_cast<int>(query_int(db, "PRAGMA user_version"));
    if (at > schema_version)
        throw newer_schema_error(fmt::format(
            "schema version {} is newer than this meterbridge knows ({})", at, schema_version));
    for (int v = at; v < version; ++v) {
        exec(db, "BEGIN IMMEDIATE");
        try {
            exec(db, migrations.at(static_cast<std::size_t>(v)));
            exec(db, fmt::format("PRAGMA user_version = {}", v + 1).c_str());
            exec(db, "COMMIT");
        } catch (...) {
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
}

void migrate(sqlite3* db) {
    migrate_to(db, schema_version);
}

} // namespace mb::buffer
