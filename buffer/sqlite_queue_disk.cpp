// sqlite_queue: the half that talks to the writer thread (flushes, backlog reads, open, close).
#include "buffer/footprint.hpp"
#include "buffer/sqlite_queue.hpp"

#include <ctime>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <utility>

namespace mb::buffer {

struct sqlite_queue::flush_job {
    flush_batch batch;
    std::vector<std::uint64_t> keys; // arrival numbers of batch.inserts
    std::uint64_t delete_readings = 0;
    std::int64_t now_ms = 0;
    std::int64_t received_now = 0; // on ages_
    std::int64_t keep_upto = 0;
    std::vector<std::int64_t> keep;
    bool closing = false;
    bool maintain = false; // max_size/max_age and compaction: once per tick, not per flush
    std::map<std::string, std::uint64_t> last_seq;
    std::optional<rebuild_request> rebuild; // closing: a lost file is made again at once
    // Results.
    std::string lost; // the file was lost (file_lost_error): why
    std::optional<rebuild_report> rebuilt;
    bool written = false;
    std::vector<std::int64_t> ids;
    drop_counts drops;
    store_figures figures;
    std::string error;

    // On the writer thread.
    void run(store& st) {
        try {
            try {
                st.check_file();
            } catch (const file_lost_error& e) {
                if (!rebuild) throw;
                try {
                    rebuilt = st.rebuild(*rebuild);
                } catch (const std::exception& why) {
                    throw sqlite_error(SQLITE_IOERR,
                                       fmt::format("{}; no new file could be made ({}): what it "
                                                   "held ends with this process",
                                                   e.what(), why.what()));
                }
                rebuilt->read_error.insert(0, std::string(e.what()) + "; ");
            }
            if (!batch.inserts.empty() || !batch.deletes.empty() || !batch.reservations.empty() ||
                !batch.dropped.empty() || batch.clock_shift)
                ids = st.write(batch);
            written = true;
            if (maintain && !closing) {
                drops = st.enforce_limits(received_now, keep_upto, keep);
                st.compact(false);
            }
            figures = st.figures();
            st.note_file();
            if (closing) st.close_clean(last_seq);
        } catch (const file_lost_error& e) {
            lost = e.what();
            error = e.what();
        } catch (const std::exception& e) {
            error = e.what();
        }
    }
};

void sqlite_queue::on_tick(uv_timer_t* t) noexcept {
    try {
        auto& self = *static_cast<sqlite_queue*>(t->data);
        if (self.closing_) return;
        if (self.store_open_) {
            self.maintenance_due_ = true;
            return self.flush();
        }
        if (self.clock_.steady() - self.last_open_try_ >= retry_open_every) self.retry_open();
    } catch (...) { // never unwind into libuv
        log::callback_failed("buffer", __func__);
    }
}

void sqlite_queue::flush() {
    if (flushing_ || !store_open_) return;
    const auto now = clock_.steady();
    if (!closing_ && now < retry_after_) return; // the last commit failed: not again yet
    auto job = std::make_shared<flush_job>();
    const auto young = settings_.flush_interval / 2;
    for (auto& [key, e] : live_) {
        if (e.row != 0 || e.writing) continue;
        if (!closing_ && now - e.since < young) break; // arrival order: the rest are younger
        e.writing = true;
        job->keys.push_back(key);
        job->batch.inserts.push_back(e.what);
        job->batch.received.push_back(e.received);
    }
    job->batch.deletes.swap(to_delete_);
    job->delete_readings = deleting_readings_; // every reading row not confirmed deleted yet
    job->now_ms = clock_.unix_ms();
    job->received_now = ages_.now();
    if (ages_.shift() != saved_shift_) job->batch.clock_shift = ages_.shift();
    for (const auto& [device, to] : reservations_)
        job->batch.reservations.push_back({device, to, job->now_ms});
    reservations_.clear();
    job->batch.dropped.swap(dropped_unsaved_);
    job->keep_upto = cursor_;
    job->keep.assign(live_rows_.begin(), live_rows_.end());
    job->closing = closing_;
    job->maintain = std::exchange(maintenance_due_, false);
    if (closing_) {
        for (const auto& [device, s] : seqs_)
            job->last_seq[device] = s.last;
        job->rebuild = rebuild_request_now();
    }
    flushing_ = true;
    writer_->post([this, job] { job->run(*store_); },
                  [this, job] {
                      flushing_ = false;
                      if (job->written) {
                          flushed(*job);
                      } else {
                          flush_failed(*job);
                      }
                      if (job->rebuilt)
                          log::error("buffer: {}; made a new file at once",
                                     job->rebuilt->read_error);
                      if (closing_) return finish_close(job->closing ? job.get() : nullptr);
                      if (!job->lost.empty()) return rebuild(job->lost);
                      if (!job->error.empty()) report_error(job->error);
                      // Asked for while this one ran (or failed), or acknowledgements piling up.
                      if (!reservations_.empty() || to_delete_.size() >= delete_batch) flush();
                      ready();
                  });
}

void sqlite_queue::flushed(flush_job& job) {
    if (job.error.empty()) {
        retry_delay_ = std::chrono::milliseconds(0);
        retry_after_ = {};
        if (job.batch.clock_shift) saved_shift_ = *job.batch.clock_shift;
    }
    if (job.error.empty() && !store_ok_) {
        log::info("buffer: {} takes readings again", settings_.path.string());
        store_ok_ = true;
        store_error_.clear();
    }
    for (std::size_t i = 0; i < job.keys.size(); ++i) {
        const auto key = job.keys[i];
        const auto row = job.ids.at(i);
        const bool reading = job.batch.inserts[i].index() == 0;
        if (acked_writing_.erase(key) > 0) { // acknowledged meanwhile: on disk for nothing
            delete_row(row, reading);
            continue;
        }
        const auto it = live_.find(key);
        if (it == live_.end()) continue;
        auto& e = it->second;
        e.writing = false;
        mem_bytes_ -= footprint(e.what);
        if (reading) --mem_readings_;
        e.row = row;
        if (e.mid) {
            live_rows_.insert(row); // in flight: stays until its PUBACK
        } else {
            forget_live(it); // safe on disk: the replay brings it back
            ++disk_epoch_;
            more_on_disk_ = true;
        }
    }
    for (const auto row : job.batch.deletes)
        deleting_.erase(row);
    deleting_readings_ -= std::min(deleting_readings_, job.delete_readings);
    for (const auto& r : job.batch.reservations) {
        auto& s = seqs_[r.device];
        s.reserved = std::max(s.reserved, r.to);
        release_held(r.device, s.reserved);
    }
    for (const auto& [device, n] : job.drops) {
        dropped_[device] += n;
        dropped_total_ += n;
        ++disk_epoch_;
        more_on_disk_ = true;
        if (const long held = log_limit_.allow("limits:" + device); held >= 0)
            log::warn("buffer: {} oldest reading(s) of {} dropped to stay within max_size/max_age "
                      "({} / {} s); announced as a gap{}",
                      n, device, settings_.max_size, settings_.max_age.count() / 1000,
                      log::suppressed_note(held));
    }
    disk_ = job.figures;
}

void sqlite_queue::flush_failed(flush_job& job) {
    for (const auto key : job.keys) {
        if (acked_writing_.erase(key) > 0) continue;
        if (const auto it = live_.find(key); it != live_.end()) it->second.writing = false;
    }
    to_delete_.insert(to_delete_.end(), job.batch.deletes.begin(), job.batch.deletes.end());
    for (const auto& r : job.batch.reservations) {
        auto& to = reservations_[r.device];
        to = std::max(to, r.to);
    }
    for (const auto& [device, n] : job.batch.dropped)
        dropped_unsaved_[device] += n;
    // Readings above the reservation stay held: published now, their seq could be handed out
    // again after a crash. The next try waits, doubling up to retry_max: a full disk must not
    // turn the loop into a commit spin.
    store_ok_ = false;
    const auto first = std::max(settings_.flush_interval / 2, std::chrono::milliseconds(100));
    retry_delay_ = retry_delay_.count() == 0 ? first : std::min(retry_delay_ * 2, retry_max);
    retry_after_ = clock_.steady() + retry_delay_;
}

void sqlite_queue::report_error(const std::string& what) {
    const bool changed = what != store_error_;
    store_error_ = what;
    const long held = log_limit_.allow("store");
    if (!changed && held < 0) return;
    log::error("buffer: {}: {}; {} reading(s) wait in memory ({} not published until their seq "
               "is on disk); trying again in {:g} s{}",
               settings_.path.string(), what, mem_readings_, held_readings(),
               static_cast<double>((store_open_ ? retry_delay_ : retry_open_every).count()) / 1000,
               log::suppressed_note(held));
}

void sqlite_queue::read_backlog() {
    if (reading_ || !more_on_disk_ || !store_ok_ || closing_ ||
        replay_unsent_.size() >= replay_batch / 2)
        return;
    reading_ = true;
    struct read_job {
        std::int64_t after = 0;
        std::uint64_t epoch = 0;
        std::vector<stored_item> rows;
        std::string error;
    };
    auto job = std::make_shared<read_job>();
    job->after = cursor_;
    job->epoch = disk_epoch_;
    writer_->post(
        [this, job] {
            try {
                job->rows = store_->read_after(job->after, replay_batch);
            } catch (const std::exception& e) {
                job->error = e.what();
            }
        },
        [this, job] {
            reading_ = false;
            if (!job->error.empty()) {
                // A row that cannot be read stays where it is; the next change on disk, or
                // the next start, tries again.
                log::error("buffer: cannot read the backlog from {}: {}", settings_.path.string(),
                           job->error);
                more_on_disk_ = false;
            }
            const auto now = clock_.steady();
            for (auto& row : job->rows) {
                cursor_ = std::max(cursor_, row.id);
                if (deleting_.contains(row.id) || live_rows_.contains(row.id) ||
                    replay_.contains(row.id))
                    continue;
                replay_.emplace(row.id, entry{std::move(row.what), std::nullopt, row.id, false,
                                              false, now, row.received});
                replay_unsent_.insert(row.id);
            }
            if (job->error.empty() && job->rows.size() < replay_batch && job->epoch == disk_epoch_)
                more_on_disk_ = false;
            if (closing_) return finish_close(nullptr);
            ready();
        });
}

// Opening the file, on the writer thread: what it found, or why it could not.
struct sqlite_queue::open_job {
    open_report report;
    store_figures figures;
    std::string error;
    void run(store& st, std::int64_t now_ms) {
        try {
            report = st.open(now_ms);
            figures = st.figures();
        } catch (const std::exception& e) {
            error = e.what();
        }
    }
};

void sqlite_queue::apply_open(const open_job& opened) {
    const auto& report = opened.report;
    disk_ = opened.figures;
    store_open_ = true;
    store_ok_ = true;
    store_id_ = report.store_id;
    ages_.resume(report.clock_shift, report.last_received);
    saved_shift_ = report.clock_shift;
    store_error_.clear();
    std::map<std::string, std::uint64_t> file_last;
    for (const auto& [device, d] : report.devices) {
        file_last[device] = d.last;
        auto& dropped = dropped_[device];
        dropped = std::max(dropped, d.dropped);
    }
    renumber_for_file(file_last);
    numbered_by_file_ = true;
    dropped_total_ = 0;
    for (const auto& [device, n] : dropped_)
        dropped_total_ += n;
    more_on_disk_ = true;
    ++disk_epoch_;
    const auto path = settings_.path.string();
    if (!report.moved_aside.empty()) {
        moved_aside_ = report.moved_aside;
        log::error("buffer: {} was unusable ({}); moved aside to {} and a fresh buffer started: "
                   "what it held is not replayed",
                   path, report.why_moved, report.moved_aside);
    }
    if (report.unclean)
        log::warn("buffer: {} was not closed cleanly (a crash or a kill); seq continues above "
                  "each device's reservation, announced as {} gap(s) with reason \"restart\"",
                  path, report.restart_gaps);
}

namespace {

// The filesystem under the buffer cannot hold max_size: the file would fill the disk before
// max_size drops anything, and a full disk stops the buffer (and, with it, publishing).
void warn_if_the_disk_is_smaller(const buffer_settings& s, std::uint64_t file_bytes) {
    struct statvfs fs {};
    if (::statvfs(s.path.parent_path().c_str(), &fs) != 0) return;
    const auto room = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize + file_bytes;
    if (s.max_size <= room) return;
    log::warn("buffer: max_size is {} KiB but the filesystem under {} has room for {} KiB (with "
              "the file): the disk would fill first, and a full disk holds every reading back; "
              "lower max_size",
              s.max_size >> 10U, s.path.string(), room >> 10U);
}

} // namespace

void sqlite_queue::open() {
    open_job opened;
    writer_->run_and_wait([&] { opened.run(*store_, clock_.unix_ms()); });
    last_open_try_ = clock_.steady();
    warn_if_the_disk_is_smaller(settings_, opened.figures.file_bytes);
    if (!opened.error.empty()) return report_error(opened.error);
    apply_open(opened);
    log::info("buffer: {} open: {} reading(s) wait for replay, {} dropped so far",
              settings_.path.string(), disk_.readings, dropped_total_);
}

void sqlite_queue::retry_open() {
    last_open_try_ = clock_.steady();
    flushing_ = true; // no flush while opening
    auto job = std::make_shared<open_job>();
    writer_->post([this, job] { job->run(*store_, clock_.unix_ms()); },
                  [this, job] {
                      flushing_ = false;
                      if (!job->error.empty()) {
                          if (closing_) return finish_close(nullptr);
                          return report_error(job->error);
                      }
                      apply_open(*job);
                      log::info(
                          "buffer: {} open now; the {} reading(s) waiting in memory go to disk",
                          settings_.path.string(), mem_readings_);
                      if (closing_) return finish_close(nullptr);
                      flush();
                  });
}

// What the daemon knows, for a file made again: each device's seq, reserved anew, its drop
// count, and the items held in memory as on disk (their rows).
rebuild_request sqlite_queue::rebuild_request_now() const {
    rebuild_request req;
    for (const auto& [device, s] : seqs_) {
        const auto dropped = dropped_.find(device);
        req.devices[device] = {s.last, std::max({s.reserved, s.requested, s.last}),
                               dropped != dropped_.end() ? dropped->second : 0};
    }
    for (const auto& [row, e] : replay_)
        req.in_memory.push_back({row, e.what, e.received});
    for (const auto& [key, e] : live_)
        if (e.row != 0) req.in_memory.push_back({e.row, e.what, e.received});
    req.keep_upto = cursor_;
    req.now_ms = clock_.unix_ms();
    req.clock_shift = ages_.shift();
    return req;
}

void sqlite_queue::rebuild(const std::string& what) {
    const auto path = settings_.path.string();
    if (const long held = log_limit_.allow("rebuild"); held >= 0)
        log::error("buffer: {} while the daemon runs; making a new file from the daemon's state "
                   "(seq goes on; what cannot be read back is announced as file_lost gaps){}",
                   what, log::suppressed_note(held));
    flushing_ = true; // no flush while it is made
    struct rebuild_job {
        rebuild_request req;
        rebuild_report report;
        store_figures figures;
        std::string error;
    };
    auto job = std::make_shared<rebuild_job>();
    job->req = rebuild_request_now();
    writer_->post(
        [this, job] {
            try {
                job->report = store_->rebuild(job->req);
                job->figures = store_->figures();
            } catch (const std::exception& e) {
                job->error = e.what();
            }
        },
        [this, job, what, path] {
            flushing_ = false;
            if (!job->error.empty()) {
                // No new file (a full disk): the store stays on the lost one, which keeps what
                // it held while the daemon runs but promises nothing past a crash. Nothing is
                // committed to it; the next flush, after the back-off, tries again.
                store_ok_ = false;
                if (closing_) return finish_close(nullptr);
                return report_error(fmt::format("{}; no new file can be made yet ({}); what the "
                                                "lost file held is kept while the daemon runs",
                                                what, job->error));
            }
            const auto& r = job->report;
            disk_ = job->figures;
            store_id_ = r.store_id;
            store_ok_ = true;
            store_error_.clear();
            for (auto& [device, s] : seqs_) {
                s.reserved = std::max({s.reserved, s.requested, s.last});
                release_held(device, s.reserved);
            }
            std::uint64_t lost_seqs = 0;
            for (const auto& g : r.lost)
                lost_seqs += g.to_seq - g.from_seq + 1;
            rebuilt_ = fmt::format(
                "{}; a new file was made at {} (store {:016x}){}", what,
                fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                            fmt::gmtime(static_cast<std::time_t>(clock_.unix_ms() / 1000))),
                r.store_id,
                r.lost.empty() ? std::string()
                               : fmt::format("; {} gap(s) of {} seq(s) "
                                             "announced as file_lost",
                                             r.lost.size(), lost_seqs));
            if (!r.moved_aside.empty()) moved_aside_ = r.moved_aside;
            log::warn("buffer: {} made again (store {:016x}): {} item(s) read back{}{}", path,
                      r.store_id, r.copied,
                      r.read_error.empty() ? std::string() : "; reading stopped: " + r.read_error,
                      r.lost.empty() ? std::string()
                                     : fmt::format("; {} seq(s) it held are lost, announced as "
                                                   "{} file_lost gap(s)",
                                                   lost_seqs, r.lost.size()));
            more_on_disk_ = true;
            ++disk_epoch_;
            if (closing_) return finish_close(nullptr);
            flush();
            ready();
        });
}

void sqlite_queue::close(std::function<void()> done) {
    closing_ = true;
    closed_ = std::move(done);
    uv_timer_stop(tick_.get());
    finish_close(nullptr);
}

// Called by close() and by every job's continuation while closing: once no job runs, the
// closing flush writes what is not acknowledged, records the exact last seq and folds the WAL
// in; its continuation (closing_job) ends the close.
void sqlite_queue::finish_close(const flush_job* closing_job) {
    if (flushing_ || reading_) return;
    if (closing_job == nullptr && store_open_) return flush();
    const auto path = settings_.path.string();
    if (closing_job != nullptr && closing_job->error.empty()) {
        log::info("buffer: {} closed cleanly; {} reading(s) kept for replay", path,
                  closing_job->figures.readings);
    } else if (mem_readings_ > 0) {
        log::error("buffer: {} reading(s) not acknowledged are lost: {} could not take them ({})",
                   mem_readings_, path, closing_job != nullptr ? closing_job->error : store_error_);
    } else if (closing_job != nullptr) {
        log::error("buffer: {} not closed cleanly: {}", path, closing_job->error);
    }
    store_open_ = false;
    if (auto done = std::move(closed_)) done();
}

} // namespace mb::buffer
