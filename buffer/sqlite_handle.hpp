#pragma once
// RAII owners of SQLite's handles and the few calls every buffer file makes
// (docs/contributing.md#every-c-object-has-one-owner-and-one-thread). A failing call throws
// sqlite_error with SQLite's code and message: the buffer's store and inspector catch it at their
// edge and turn it into a value (an error the status shows).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <sqlite3.h>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mb::buffer {

class sqlite_error : public std::runtime_error {
public:
    sqlite_error(int code, const std::string& what)
        : std::runtime_error(what)
        , code_(code) {}
    // The primary result code (SQLITE_FULL, SQLITE_CORRUPT, …), extended codes masked off.
    [[nodiscard]] int code() const { return code_ & 0xff; }

private:
    int code_;
};

// The file was written by a newer meterbridge: its schema is unknown here.
class newer_schema_error : public sqlite_error {
public:
    explicit newer_schema_error(const std::string& what)
        : sqlite_error(SQLITE_MISMATCH, what) {}
};

struct sqlite_closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct statement_finalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using sqlite_ptr = std::unique_ptr<sqlite3, sqlite_closer>;

// One prepared statement, reset after every use by its callers (statement::step/done).
class statement {
public:
    statement() = default;
    statement(sqlite3* db, std::string_view sql);

    statement& bind(int index, std::int64_t v);
    statement& bind(int index, std::string_view v);
    statement& bind_blob(int index, std::string_view bytes);
    statement& bind_null(int index);
    // True while a row is there; false at the end (the statement is then reset).
    bool step();
    // Runs a statement that returns no rows, and resets it.
    void run();
    void reset();

    [[nodiscard]] std::int64_t int64(int column) const;
    [[nodiscard]] std::string_view text(int column) const;
    [[nodiscard]] std::string_view blob(int column) const;
    [[nodiscard]] bool is_null(int column) const;

private:
    std::unique_ptr<sqlite3_stmt, statement_finalizer> stmt_;
};

// Opens `path` with `flags` (SQLITE_OPEN_*); throws sqlite_error naming the path.
[[nodiscard]] sqlite_ptr open_sqlite(const std::filesystem::path& path, int flags);
// Runs one or more statements without results.
void exec(sqlite3* db, const char* sql);
// The single integer a PRAGMA or a query returns.
[[nodiscard]] std::int64_t query_int(sqlite3* db, const char* sql);
// Throws sqlite_error for `rc` unless it is SQLITE_OK / SQLITE_ROW / SQLITE_DONE.
void check(sqlite3* db, int rc, std::string_view what);

} // namespace mb::buffer
