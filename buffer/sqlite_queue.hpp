#pragma once
// The store-and-forward buffer (docs/buffer.md): the delivery queue backed by a SQLite file.
//
// Write-behind with ack elision: a reading is published at once and kept in memory; every
// half flush_interval the writer thread commits, in one transaction, the readings that have
// waited at least half a flush_interval without their PUBACK (so every unacknowledged reading
// is on disk within flush_interval), and deletes the acknowledged ones already on disk. A
// reading acknowledged in time never touches the disk. Once written, a reading not in flight
// leaves memory: during an outage memory holds the last half interval and a replay window.
//
// Replay, live first: pump() offers the readings in memory (live) before the backlog, which
// the writer thread reads from disk oldest first, a batch at a time, when the replay window
// runs low. Ids on disk never repeat (AUTOINCREMENT), and `cursor_` is the highest id read:
// rows above it are read later; rows at or below it are in memory until acknowledged.
//
// seq: handed out from a per-device range reserved ahead on disk; a reading whose seq is above
// the committed reservation is held back (not published) for the few milliseconds the commit
// takes, so that no seq can be delivered and then repeated after a crash.
//
// The file failing (full disk, read-only, unusable): readings wait in memory (bounded: the
// oldest are dropped as max_size past a cap), the error is in stats() and the log, and the
// commit is tried again on a back-off. Live readings go on within the numbers reserved before
// the failure; past them they wait for a commit, so that seq never repeats through a crash.
// A queue whose file has not opened yet (a full disk at start) has nothing reserved: readings
// wait, numbered in memory, and take the numbers after the file's once it opens. Loop thread
// only.
#include "buffer/age_clock.hpp"
#include "buffer/delivery_queue.hpp"
#include "buffer/item.hpp"
#include "buffer/store.hpp"
#include "buffer/writer_thread.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mb::buffer {

class sqlite_queue final : public delivery_queue {
public:
    sqlite_queue(uv_loop_t& loop, buffer_settings settings,
                 const common::clock& clock = common::real_clock());
    ~sqlite_queue() override;
    sqlite_queue(const sqlite_queue&) = delete;
    sqlite_queue& operator=(const sqlite_queue&) = delete;

    // Opens the file, waiting for the writer thread (start-up only). A file that cannot be
    // opened leaves the queue working from memory; the error is in stats() and the log.
    void open();

    std::uint64_t push(model::reading r) override;
    void pump(model::outlet& out) override;
    void acked(int mid) override;
    void refused(int mid, const std::string& reason) override;
    void requeue_inflight() override;
    void close(std::function<void()> done) override;

    [[nodiscard]] model::buffer_stats stats() const override;
    [[nodiscard]] std::size_t inflight() const override { return by_mid_.size(); }
    [[nodiscard]] std::size_t size() const override;
    [[nodiscard]] std::uint64_t dropped() const override { return dropped_total_; }
    [[nodiscard]] std::string error() const override { return store_error_; }

    // Items held in memory (live and loaded for replay): what RSS follows.
    [[nodiscard]] std::size_t in_memory() const { return live_.size() + replay_.size(); }
    // Writer jobs not yet finished on the loop (tests wait for 0).
    [[nodiscard]] std::size_t busy() const { return writer_ ? writer_->pending() : 0; }

    static constexpr std::uint64_t reserve_step = 4096;   // seq numbers reserved per disk write
    static constexpr std::size_t replay_batch = 4096;     // rows read from disk at a time
    static constexpr std::size_t memory_cap = 64U << 20U; // while the file cannot be written
    static constexpr std::chrono::milliseconds retry_max{30'000};      // failed commits, at most
    static constexpr std::chrono::milliseconds retry_open_every{5000}; // a file that did not open
    // Acknowledged rows are deleted in a commit of their own once this many wait (not only at
    // the next tick), and the replay sends nothing more while unconfirmed_max wait: a kill -9
    // during a replay sends again at most unconfirmed_max + 2 x max_inflight readings.
    static constexpr std::size_t delete_batch = 128;
    static constexpr std::size_t unconfirmed_max = 256;

private:
    struct entry {
        item what;
        std::optional<int> mid; // handed to the outlet, awaiting its PUBACK
        std::int64_t row = 0;   // its id on disk, 0 while in memory only
        bool writing = false;   // in a flush the writer has not finished
        bool held = false;      // seq above the committed reservation: not sent yet
        std::chrono::steady_clock::time_point since;
        std::int64_t received = 0; // when the gateway took it, on ages_ (max_age)
    };
    struct seq_state {
        std::uint64_t last = 0;      // the last seq handed out
        std::uint64_t reserved = 0;  // committed: numbers up to here may be handed out
        std::uint64_t requested = 0; // asked of the writer
    };
    struct flush_job; // what one flush sent, for its continuation

    // Memory side.
    std::uint64_t add_live(item i, bool held, std::int64_t received);
    void forget_live(std::map<std::uint64_t, entry>::iterator it);
    void delete_row(std::int64_t row, bool reading);
    // Commits the deletes now when delete_batch of them wait.
    void confirm_deletes();
    void drop(const model::reading& r, model::gap_reason why);
    void drop_for_memory();
    // The entry leaves the queue (its row, if any, is deleted at the next flush).
    item take_out(bool live, std::uint64_t key);
    void handle_refused(const item& what, const std::string& reason);
    [[nodiscard]] bool too_old(const entry& e);
    enum class offered : std::uint8_t { sent, retry, removed };
    offered offer(model::outlet& out, bool live, std::uint64_t key, entry& e);
    // True when `seq` is above what the file has committed for `device`: a crash could hand
    // it out again, so it is not published yet.
    [[nodiscard]] bool beyond_reservation(const std::string& device, std::uint64_t seq) const;
    void release_held(const std::string& device, std::uint64_t upto);
    // The file opened at last: what waits takes the numbers after each device's `file_last`.
    void renumber_for_file(const std::map<std::string, std::uint64_t>& file_last);
    void reserve_ahead(const std::string& device, seq_state& s);

    // Disk side (sqlite_queue_disk.cpp).
    static void on_tick(uv_timer_t* t) noexcept;
    void flush();
    void flushed(flush_job& job);
    void flush_failed(flush_job& job);
    void read_backlog();
    struct open_job;
    void apply_open(const open_job& opened);
    void retry_open();
    void finish_close(const flush_job* closing_job);
    void report_error(const std::string& what);
    // The file was lost under the running daemon (`what`): a new one is made from its state.
    void rebuild(const std::string& what);
    [[nodiscard]] rebuild_request rebuild_request_now() const;
    // Readings waiting for their seq's reservation to reach the disk.
    [[nodiscard]] std::uint64_t held_readings() const { return held_readings_; }

    buffer_settings settings_;
    const common::clock& clock_;
    age_clock ages_{clock_};
    std::int64_t saved_shift_ = 0;          // ages_.shift() as the file has it
    std::unique_ptr<store> store_;          // used on the writer thread only
    std::unique_ptr<writer_thread> writer_; // declared after store_: joins before it goes
    uv_handle<uv_timer_t> tick_;

    std::map<std::uint64_t, entry> live_;  // by arrival number
    std::map<std::int64_t, entry> replay_; // loaded from disk, by row id
    std::set<std::uint64_t> live_unsent_;
    std::set<std::int64_t> replay_unsent_;
    struct where {
        bool live;
        std::int64_t key;
    };
    std::unordered_map<int, where> by_mid_;
    std::unordered_set<std::int64_t> live_rows_;      // rows of live entries kept in flight
    std::unordered_set<std::uint64_t> acked_writing_; // acknowledged while being written
    std::vector<std::int64_t> to_delete_;             // acknowledged rows, next flush
    std::unordered_set<std::int64_t> deleting_;       // to_delete_ and those being deleted
    std::uint64_t deleting_readings_ = 0;
    std::uint64_t next_key_ = 1;
    std::map<std::pair<std::string, model::gap_reason>, std::uint64_t> open_gaps_;

    std::map<std::string, seq_state> seqs_;
    std::map<std::string, std::uint64_t> reservations_; // device -> to, next flush
    std::map<std::string, std::uint64_t> dropped_;
    std::map<std::string, std::uint64_t> dropped_unsaved_;
    std::uint64_t dropped_total_ = 0;

    std::uint64_t held_readings_ = 0; // live readings with `held` set
    std::size_t mem_bytes_ = 0;       // entries not on disk
    std::uint64_t mem_readings_ = 0;  // readings not on disk
    store_figures disk_;
    bool store_open_ = false;
    bool store_ok_ = false;
    bool numbered_by_file_ = false; // the file has given this process its seq numbers
    // A failed commit is tried again after this back-off (doubling to retry_max), not at once.
    std::chrono::milliseconds retry_delay_{0};
    std::chrono::steady_clock::time_point retry_after_;
    std::string store_error_;
    std::string moved_aside_;
    std::string rebuilt_;        // the file was lost and made again (for stats(), this run)
    std::uint64_t store_id_ = 0; // the file's meta.store_id; 0 before it opened
    std::chrono::steady_clock::time_point last_open_try_;
    bool flushing_ = false;
    bool maintenance_due_ = false; // a tick came: the next flush enforces limits and compacts
    bool reading_ = false;
    bool more_on_disk_ = true;
    std::uint64_t disk_epoch_ = 0; // bumped whenever rows appear above cursor_
    std::int64_t cursor_ = 0;
    bool closing_ = false;
    std::function<void()> closed_;
    log::rate_limiter log_limit_;
};

} // namespace mb::buffer
