#pragma once
// The buffer file (docs/buffer.md): SQLite in WAL mode, used by the writer thread only. Every
// call is synchronous and throws sqlite_error; sqlite_queue runs them off the loop thread and
// turns failures into the error the gateway status shows.
#include "buffer/file_census.hpp"
#include "buffer/item.hpp"
#include "buffer/limits.hpp"
#include "buffer/reading_codec.hpp"
#include "buffer/settings.hpp"
#include "buffer/sqlite_handle.hpp"
#include "model/gap.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mb::buffer {

// Where a device's seq stands in the file.
struct device_seq {
    std::uint64_t last = 0;    // the highest seq that may have been used
    std::uint64_t dropped = 0; // readings dropped, ever
};

struct open_report {
    std::map<std::string, device_seq> devices;
    std::uint64_t store_id = 0;     // the file's meta.store_id
    std::int64_t clock_shift = 0;   // the file's meta.clock_shift
    std::int64_t last_received = 0; // the latest items.received in the file (0: none)
    std::string moved_aside;        // the unusable file's new name, when there was one
    std::string why_moved;
    bool unclean = false; // the last run did not close the file
    std::size_t restart_gaps = 0;
};

// What the file holds now, for the gateway status.
struct store_figures {
    std::uint64_t readings = 0;
    std::optional<std::int64_t> oldest_ts;
    std::uint64_t file_bytes = 0; // database + WAL
};

struct reservation {
    std::string device;
    std::uint64_t to = 0; // seq up to which numbers may be handed out
    std::int64_t ts = 0;
};

// One transaction's worth of work.
struct flush_batch {
    std::vector<item> inserts;               // in arrival order
    std::vector<std::int64_t> received;      // of each insert (items.received)
    std::optional<std::int64_t> clock_shift; // a new meta.clock_shift
    std::vector<std::int64_t> deletes;
    std::vector<reservation> reservations;
    std::map<std::string, std::uint64_t> dropped; // counted on the loop (refused), to add
};

struct stored_item {
    std::int64_t id = 0;
    item what;
    std::int64_t received = 0; // items.received (its ts when the file had none)
};

// Readings the limits took out of the file, per device.
using drop_counts = std::map<std::string, std::uint64_t>;

// The file under an open store is gone or not the one it wrote (check_file): deleted,
// replaced, truncated.
class file_lost_error : public sqlite_error {
public:
    explicit file_lost_error(const std::string& what)
        : sqlite_error(SQLITE_IOERR, what) {}
};

// What the daemon knows of a device, to rebuild a lost file from.
struct device_carry {
    std::uint64_t last = 0;       // the last seq handed out
    std::uint64_t reserve_to = 0; // numbers up to here may be handed out (reserved again)
    std::uint64_t dropped = 0;
};

struct rebuild_request {
    std::map<std::string, device_carry> devices;
    std::vector<stored_item> in_memory; // items the queue holds as on disk (their row ids)
    std::int64_t keep_upto = 0;         // every id up to here was read for replay
    std::int64_t now_ms = 0;
    std::int64_t clock_shift = 0;
};

struct rebuild_report {
    std::string moved_aside;      // where what was left at the path went; empty if nothing
    std::uint64_t copied = 0;     // items read back from the lost file (or the queue's memory)
    std::vector<model::gap> lost; // runs that could not be read back (reason file_lost)
    std::string read_error;       // why reading the lost file stopped early; empty if it did not
    std::uint64_t store_id = 0;   // the new file's
};

// Now in UTC as 20261204T193000Z: the suffix of a file moved aside (.corrupt-…, .lost-…).
[[nodiscard]] std::string aside_stamp();

class store {
public:
    explicit store(buffer_settings settings);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    // Opens (creating the directory and the file when missing) and migrates. An unusable file
    // (corrupt, not a database, a newer schema) is moved aside and a fresh one created; a
    // file that cannot be created or written throws. After an unclean stop, one restart gap
    // per device is stored for the seq numbers that may have been used.
    open_report open(std::int64_t now_ms);
    [[nodiscard]] bool is_open() const { return db_ != nullptr; }

    // Inserts, deletes and reserves in one transaction; returns the new rows' ids in order.
    std::vector<std::int64_t> write(const flush_batch& batch);
    // Up to `limit` items with id > after, oldest first.
    std::vector<stored_item> read_after(std::int64_t after, std::size_t limit);
    // Drops the oldest readings past max_age and max_size, leaving alone every id <= `keep_upto`
    // (loaded for replay) and those in `keep` (in flight); each dropped run becomes a gap item.
    // `received_now` is the time on the items.received clock.
    drop_counts enforce_limits(std::int64_t received_now, std::int64_t keep_upto,
                               const std::vector<std::int64_t>& keep);
    // Gives back free pages to the filesystem and truncates the WAL when worth it.
    void compact(bool force);
    // A clean stop: the exact last seq per device, nothing reserved beyond, the WAL folded in.
    void close_clean(const std::map<std::string, std::uint64_t>& last_seq);

    [[nodiscard]] store_figures figures();

    // Throws file_lost_error when the file at the path is not the one this store wrote: it
    // was deleted, replaced, or truncated (or its WAL deleted). Cheap: a stat or two.
    void check_file();
    // Records the file as it is now, after this store's own work on it (a vacuum shrinks it).
    void note_file();
    // After file_lost_error: moves aside what is left at the path, makes a fresh file there
    // (a new store id) holding the devices' seq state from `req`, every item that can still be
    // read from the lost one (through the connection still open on it) or comes from the
    // queue's memory, under its old id, and a file_lost gap for each run that cannot. When no
    // fresh file can be made (a full disk), throws and stays on the lost file: what it holds
    // is kept while the daemon runs, for the next try.
    rebuild_report rebuild(const rebuild_request& req);

private:
    struct statements;
    void open_file();
    void move_aside(const std::string& why, open_report& report);
    void announce_restart(std::int64_t now_ms, open_report& report);
    std::int64_t device_id(const std::string& name);
    // The row body of `r`'s values, its names numbered in the file first where they are new.
    std::string encode(const model::reading& r);
    model::reading decode(std::int64_t device, std::uint64_t seq, std::int64_t ts,
                          std::string_view body);
    // rebuild(): moves what is at the path aside (its new name, or empty), and writes the
    // daemon's seq state into the fresh file.
    [[nodiscard]] std::string clear_path() const;
    void carry_state(const rebuild_request& req, std::int64_t top_id);
    rebuild_report rebuild_from(store& lost, const rebuild_request& req, bool& made);
    // Moves the open connection and what this store knows of its file over from `from`.
    void take_connection(store& from);
    // A fresh file that could not be finished: closed and removed (it is this store's own).
    void discard_new_file();
    // Inserts (under `id` when not 0; an id already there is left alone); returns its id.
    std::int64_t insert(const item& i, std::int64_t received, std::int64_t id = 0);

    // Stores a gap, or extends the device's stored gap it continues when that one is not
    // loaded for replay yet (id > keep_upto): one message per run, not one per drop.
    void record_gap(const model::gap& g, std::int64_t keep_upto);
    std::uint64_t drop_oldest(model::gap_reason why, std::int64_t keep_upto,
                              const std::vector<std::int64_t>& keep, std::int64_t received_before,
                              std::uint64_t max_rows, drop_counts& counts);
    void probe() const;
    [[nodiscard]] std::uint64_t used_bytes();       // pages in use
    [[nodiscard]] std::uint64_t file_bytes() const; // the file and its WAL on disk
    static std::int64_t pragma(statement& s);

    buffer_settings settings_;
    sqlite_ptr db_;
    std::unique_ptr<statements> st_;
    // Device names as the file numbers them, both ways.
    struct interned {
        std::unordered_map<std::string, std::int64_t> ids;
        std::unordered_map<std::int64_t, std::string> words;
        void load(sqlite3* db, const char* sql);
        std::int64_t id(const std::string& word, statement& add);     // adds it when new
        [[nodiscard]] const std::string* word(std::int64_t id) const; // null: unknown
    };
    interned devices_;
    reading_codec codec_; // measurement names as the file numbers them
    bool unknown_names_warned_ = false;
    file_census census_;
    struct file_identity {
        std::uint64_t dev = 0, ino = 0;
        bool operator==(const file_identity&) const = default;
    };
    file_identity file_id_;
    file_identity wal_id_;              // zero until the WAL exists
    std::uint64_t file_bytes_seen_ = 0; // only this store's own vacuum shrinks the file
    std::uint64_t readings_ = 0;        // kind-0 rows, kept exact by every change
    std::int64_t page_size_ = 4096;
    limits limits_; // what max_size and max_age drop, on this file's page size
};

} // namespace mb::buffer
