#pragma once
// One SQLite transaction of the buffer file: BEGIN IMMEDIATE, committed by commit(), rolled back
// when left without it (an exception); the file census's changes count with it.
#include "buffer/file_census.hpp"
#include "buffer/sqlite_handle.hpp"

namespace mb::buffer {

class transaction {
public:
    transaction(sqlite3* db, file_census& census)
        : db_(db)
        , census_(census) {
        exec(db_, "BEGIN IMMEDIATE");
    }
    ~transaction() {
        if (db_ == nullptr) return;
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        census_.rollback();
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit() {
        exec(db_, "COMMIT");
        db_ = nullptr;
        census_.commit();
    }

private:
    sqlite3* db_;
    file_census& census_;
};

} // namespace mb::buffer
