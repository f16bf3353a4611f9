#include "buffer/sqlite_handle.hpp"

#include <fmt/format.h>

namespace mb::buffer {

void check(sqlite3* db, int rc, std::string_view what) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw sqlite_error(rc, fmt::format("{}: {}", what, msg));
}

statement::statement(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    check(db,
          sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &s, nullptr),
          sql);
    stmt_.reset(s);
}

statement& statement::bind(int index, std::int64_t v) {
    check(sqlite3_db_handle(stmt_.get()), sqlite3_bind_int64(stmt_.get(), index, v), "bind");
    return *this;
}

statement& statement::bind(int index, std::string_view v) {
    check(sqlite3_db_handle(stmt_.get()),
          sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()),
                            SQLITE_TRANSIENT),
          "bind");
    return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes) {
    check(sqlite3_db_handle(stmt_.get()),
          sqlite3_bind_blob(stmt_.get(), index, bytes.data(), static_cast<int>(bytes.size()),
                            SQLITE_TRANSIENT),
          "bind");
    return *this;
}

statement& statement::bind_null(int index) {
    check(sqlite3_db_handle(stmt_.get()), sqlite3_bind_null(stmt_.get(), index), "bind");
    return *this;
}

bool statement::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
        sqlite3_reset(stmt_.get());
        check(sqlite3_db_handle(stmt_.get()), rc, sqlite3_sql(stmt_.get()));
    }
    reset();
    return false;
}

void statement::run() {
    while (step()) {
    }
}

void statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

std::int64_t statement::int64(int column) const {
    return sqlite3_column_int64(stmt_.get(), column);
}

std::string_view statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_.get(), column);
    const int n = sqlite3_column_bytes(stmt_.get(), column);
    return p == nullptr
               ? std::string_view()
               : std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::string_view statement::blob(int column) const {
    const auto* p = sqlite3_column_blob(stmt_.get(), column);
    const int n = sqlite3_column_bytes(stmt_.get(), column);
    return p == nullptr
               ? std::string_view()
               : std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool statement::is_null(int column) const {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

sqlite_ptr open_sqlite(const std::filesystem::path& path, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    sqlite_ptr db(raw);
    if (rc != SQLITE_OK)
        throw sqlite_error(rc,
                           fmt::format("cannot open {}: {}", path.string(),
                                       raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_extended_result_codes(raw, 1);
    return db;
}

void exec(sqlite3* db, const char* sql) {
    check(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), sql);
}

std::int64_t query_int(sqlite3* db, const char* sql) {
    statement s(db, sql);
    return s.step() ? s.int64(0) : 0;
}

} // namespace mb::buffer
