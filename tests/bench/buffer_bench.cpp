// The store-and-forward buffer's figures (issue 8), with the queue the daemon gets from
// open_delivery_queue() glued to bridge::uplink by buffer::forwarder, a private mosquitto on
// loopback, and the buffer file on a real filesystem:
//  (1) disk bytes written per reading with a healthy uplink (/proc/self/io write_bytes, every
//      thread, from opening the file to its clean close), target < 5;
//  (2) a backlog built during an outage, closed, reopened and replayed: readings/s at
//      max_inflight 32 and 100 beside a bare libmosquitto QoS 1 loop in the same run, target
//      >= 0.7 of it;
//  (3) readings/s committed to disk during an outage (pushed as fast as the loop turns while
//      the queue's memory stays under 3/4 of its bound), and CPU time per 1 000 readings;
//  (4) RSS with a backlog of 0, 100 000 and 1 000 000 readings, in a fresh process that opens
//      the file (after a restart) and in the process that stored them: it must not grow with
//      the backlog.
// A missed target is printed, not an error; the exit status is 1 only when the bench itself
// failed (no broker, a timeout, a reading lost).
//
// Environment: MB_BENCH_SCALE (reading counts times this, default 1; 0.1 for a quick run),
// MB_BENCH_RATE (readings/s pushed in (1), default 2000), MB_BENCH_DIR (a directory on the
// filesystem to measure, default /var/tmp), MB_BENCH_BARE_SECONDS (longest bare run, 10).
// Argument: "disk" runs only (1), "backlog" only (2)-(4).
#include "bench_bare.hpp"
#include "bench_broker.hpp"
#include "bridge/payloads.hpp"
#include "buffer/delivery_queue.hpp"
#include "buffer/footprint.hpp"
#include "buffer/item.hpp"
#include "buffer/settings.hpp"
#include "buffer/sqlite_handle.hpp"
#include "buffer/sqlite_queue.hpp"
#include "buffer_bench_proc.hpp"
#include "buffer_bench_rig.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <mosquitto.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using mb::bench::clock_type;
using mb::bench::seconds_between;
using namespace std::chrono_literals;

constexpr std::uint64_t kib = 1024;
constexpr double disk_target = 5.0;      // bytes per reading, (1)
constexpr double replay_target = 0.7;    // of the bare loop, (2)
constexpr double rss_flat_mib = 4.0;     // growth from 100 000 to 1 000 000 readings, (4)
constexpr std::size_t disk_devices = 20; // (1): 20 meters of 30 values
constexpr std::size_t disk_values = 30;
constexpr std::size_t backlog_devices = 100; // (2)-(4): 100 meters of 10 values
constexpr std::size_t backlog_values = 10;
// (3): the share of its memory bound the queue may fill. The write-behind queue keeps what
// it has not committed in memory (up to a flush_interval of readings, and the batch being
// written) and drops the oldest past sqlite_queue::memory_cap: a burst beyond that is not
// what (3) measures.
constexpr double memory_share = 0.75;

struct options {
    double scale = 1;
    double rate = 2000;
    std::chrono::seconds bare_limit{10};
    fs::path base;    // where the bench's own directory goes
    std::string only; // "", "disk" or "backlog"

    [[nodiscard]] std::uint64_t scaled(double n) const {
        return std::max<std::uint64_t>(100, static_cast<std::uint64_t>(std::llround(n * scale)));
    }
};

double env_number(const char* name, double fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    std::size_t used = 0;
    double d = 0;
    try {
        d = std::stod(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != std::strlen(v) || !(d > 0))
        throw std::runtime_error(fmt::format("{}={} is not a positive number", name, v));
    return d;
}

std::string verdict(bool met) {
    return met ? "target met" : "target MISSED";
}

// Time for `n` readings at no less than `per_s`, and a minute to spare.
clock_type::duration budget(std::uint64_t n, double per_s) {
    return std::chrono::duration_cast<clock_type::duration>(
               std::chrono::duration<double>(static_cast<double>(n) / per_s)) +
           60s;
}

double mib(std::uint64_t kib_count) {
    return static_cast<double>(kib_count) / static_cast<double>(kib);
}

mb::buffer::buffer_settings settings_for(const fs::path& db) {
    mb::buffer::buffer_settings s;
    s.path = db;
    s.max_size = 16ULL << 30U; // no drops in these figures
    return s;
}

std::unique_ptr<mb::buffer::delivery_queue> open_queue(uv_loop_t& loop, const fs::path& db) {
    auto opened = mb::buffer::open_delivery_queue(loop, settings_for(db));
    if (!opened.queue) throw std::runtime_error("cannot open the buffer: " + opened.error);
    if (!fs::exists(db))
        throw std::runtime_error(fmt::format("open_delivery_queue() made no file at {}: this "
                                             "build's queue is not the SQLite buffer",
                                             db.string()));
    if (const auto error = opened.queue->stats().error; !error.empty())
        throw std::runtime_error("the buffer reports an error: " + error);
    return std::move(opened.queue);
}

void close_queue(mb::bench::bench_loop& loop, mb::buffer::delivery_queue& q) {
    bool closed = false;
    q.close([&] { closed = true; });
    loop.run_until([&] { return closed; }, 120s, "the queue to close");
}

void remove_db(const fs::path& db) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        fs::remove(db.string() + suffix);
}

void copy_db(const fs::path& from, const fs::path& to) {
    remove_db(to);
    for (const char* suffix : {"", "-wal"})
        if (fs::exists(from.string() + suffix))
            fs::copy_file(from.string() + suffix, to.string() + suffix);
}

// The buffer file as a separate read-only reader sees it (the schema of buffer/schema.cpp):
// what is committed, not what the queue holds in memory.
class file_view {
public:
    explicit file_view(const fs::path& db)
        : db_(mb::buffer::open_sqlite(db, SQLITE_OPEN_READONLY)) {}
    // Ids only grow (AUTOINCREMENT) and nothing is deleted during an outage: the highest one
    // counts what was committed, cheaply.
    [[nodiscard]] std::int64_t highest_id() const {
        return mb::buffer::query_int(db_.get(), "SELECT coalesce(max(id), 0) FROM items");
    }
    [[nodiscard]] std::int64_t readings() const {
        return mb::buffer::query_int(db_.get(), "SELECT count(*) FROM items WHERE kind = 0");
    }
    [[nodiscard]] std::int64_t gaps() const {
        return mb::buffer::query_int(db_.get(), "SELECT count(*) FROM items WHERE kind = 1");
    }
    // Every row ever inserted into items, also those deleted since.
    [[nodiscard]] std::int64_t ever_inserted() const {
        return mb::buffer::query_int(
            db_.get(),
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0)");
    }

private:
    mb::buffer::sqlite_ptr db_;
};

fs::path make_workdir(const fs::path& base) {
    fs::create_directories(base);
    std::string tmpl = (base / "mb-buffer-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::system_error(errno, std::generic_category(), "mkdtemp under " + base.string());
    return tmpl;
}

// ---- (1) disk bytes per reading, healthy uplink ----

std::string figure_disk(const options& o, int port, const fs::path& dir, bool& missed) {
    const auto db = dir / "healthy.db";
    const auto count = o.scaled(100'000);
    fmt::print("(1) {} readings ({} meters x {} values) at {:.0f}/s, max_inflight 32, into a "
               "fresh {}\n",
               count, disk_devices, disk_values, o.rate, db.string());
    std::uint64_t w_open = 0;
    std::uint64_t w_run = 0;
    std::uint64_t w_close = 0;
    double secs = 0;
    std::uint64_t acks = 0;
    std::string checks;
    {
        mb::bench::bench_loop loop;
        std::fflush(stdout); // into a file, our own lines would count
        const auto w0 = mb::bench::write_bytes();
        auto q = open_queue(loop.get(), db);
        const auto w1 = mb::bench::write_bytes();
        {
            mb::bench::uplink_rig rig(loop, port, 32, "bench-disk", std::move(q));
            rig.start();
            loop.run_until([&] { return rig.connects > 0; }, 15s, "the uplink to connect");
            mb::bench::reading_source src(disk_devices, disk_values);
            mb::bench::rate_pusher pusher(loop, rig.path(), src, count, o.rate);
            const auto start = clock_type::now();
            pusher.start();
            loop.run_until([&] { return pusher.done() && rig.path().queue().size() == 0; },
                           budget(count, o.rate), "every reading pushed and acknowledged");
            secs = seconds_between(start, clock_type::now());
            const auto w2 = mb::bench::write_bytes();
            w_open = w1 - w0;
            w_run = w2 - w1;
            const auto& c = rig.checked();
            acks = c.acks;
            checks = fmt::format("published {}, acked {}, repeated {}, out of order {}, "
                                 "disconnects {}",
                                 c.readings, acks, c.repeats, c.backwards, rig.disconnects);
            rig.stop_and_close(); // the daemon's order: offline status, then the queue's close
            w_close = mb::bench::write_bytes() - w2;
        }
    }
    const file_view after(db);
    const auto total = w_open + w_run + w_close;
    const double per = static_cast<double>(total) / static_cast<double>(count);
    fmt::print("    write_bytes: open {} B, {:.1f} s running {} B ({:.0f} B/s), close {} B\n",
               w_open, secs, w_run, static_cast<double>(w_run) / secs, w_close);
    fmt::print("    readings ever written to the file: {} of {}; left in it after the clean "
               "close: {}; file {} KiB\n",
               after.ever_inserted(), count, after.readings(), mb::bench::db_bytes(db) / kib);
    fmt::print("    {}\n", checks);
    if (acks < count)
        throw std::runtime_error(fmt::format("(1): {} of {} readings acknowledged", acks, count));
    missed |= per >= disk_target;
    return fmt::format("(1) disk written, healthy uplink: {:.2f} bytes/reading ({} B over {} "
                       "readings at {:.0f}/s) -- target < {:.0f}: {}",
                       per, total, count, o.rate, disk_target, verdict(per < disk_target));
}

// ---- (3) and (4): the backlog of an outage ----

struct rss_line {
    std::uint64_t backlog = 0;
    std::uint64_t rss = 0;  // KiB
    std::uint64_t heap = 0; // KiB in use by live objects
};

// `argv0 --rss-child <db>` in a fresh process: its RSS with that file open (see rss_child).
rss_line rss_in_child(const fs::path& db) {
    const auto self = fs::read_symlink("/proc/self/exe").string();
    std::array<int, 2> fds{};
    if (::pipe(fds.data()) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    std::string prog = self;
    std::string flag = "--rss-child";
    std::string path = db.string();
    std::array<char*, 4> argv{prog.data(), flag.data(), path.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    std::string out;
    if (rc == 0) {
        std::array<char, 256> buf{};
        ssize_t n = 0;
        while ((n = ::read(fds[0], buf.data(), buf.size())) > 0)
            out.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    if (rc == 0) ::waitpid(pid, &status, 0);
    rss_line r;
    std::istringstream in(out);
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        !(in >> r.backlog >> r.rss >> r.heap))
        throw std::runtime_error(fmt::format("the RSS child on {} failed: '{}'", path, out));
    return r;
}

struct backlog_figures {
    std::vector<rss_line> running; // in the process that stored them, at rest
    double ingest_per_s = 0;
    std::uint64_t pauses = 0; // the pusher waited for the writer
    double cpu_ms_per_1000 = 0;
    double own_cpu_ms_per_1000 = 0; // the bench's making of readings, included above
    std::uint64_t ingest_readings = 0;
    double ingest_secs = 0;
};

// Pushes `count` readings as fast as the loop turns while the queue's memory stays under
// memory_share of its bound, until a reader sees them all in the file; returns how often the
// pusher waited for the writer.
std::uint64_t push_until_committed(mb::bench::bench_loop& loop, mb::buffer::delivery_queue& q,
                                   const file_view& view, mb::bench::reading_source& src,
                                   std::uint64_t count) {
    const auto* sq = dynamic_cast<const mb::buffer::sqlite_queue*>(&q);
    if (sq == nullptr) throw std::runtime_error("the queue is not the SQLite buffer");
    const auto per_item = mb::buffer::footprint(mb::buffer::item{src.sample(0)});
    const auto most = static_cast<std::size_t>(
        memory_share * static_cast<double>(mb::buffer::sqlite_queue::memory_cap) /
        static_cast<double>(per_item));
    const auto base = view.highest_id();
    const auto committed = [&] { return static_cast<std::uint64_t>(view.highest_id() - base); };
    const auto dropped = q.dropped();
    mb::bench::burst_pusher pusher(loop, q, src, count, [&] {
        return sq->in_memory() + mb::bench::burst_pusher::batch <= most;
    });
    pusher.start();
    loop.run_until(
        [&] {
            if (q.dropped() != dropped)
                throw std::runtime_error(fmt::format(
                    "the queue dropped {} readings with {} of {} pushed and {} committed",
                    q.dropped() - dropped, pusher.pushed(), count, committed()));
            return pusher.done() && committed() >= count;
        },
        budget(count, 2000), "the readings to be committed");
    return pusher.pauses();
}

// At rest: the loop has run a flush interval since the last commit, so the queue has taken
// the written readings out of memory.
rss_line rss_at_rest(mb::bench::bench_loop& loop, std::uint64_t backlog) {
    loop.run_for(settings_for("").flush_interval);
    rss_line r;
    r.backlog = backlog;
    r.rss = mb::bench::rss_kib();
    r.heap = mb::bench::heap_in_use_kib();
    return r;
}

// The CPU one reading's making costs the bench itself (a copy of a template).
double own_cpu_ms_per_1000() {
    mb::bench::reading_source src(backlog_devices, backlog_values);
    constexpr int n = 200'000;
    const double c0 = mb::bench::cpu_seconds();
    std::size_t sink = 0;
    for (int i = 0; i < n; ++i)
        sink += src.next().values.size();
    const double c1 = mb::bench::cpu_seconds();
    if (sink == 0) throw std::logic_error("no readings made");
    return (c1 - c0) * 1e3 / (n / 1000.0);
}

backlog_figures build_backlog(const options& o, const fs::path& db, const fs::path& small_copy) {
    const auto small = o.scaled(100'000);
    const auto big = o.scaled(1'000'000);
    backlog_figures f;
    mb::bench::reading_source src(backlog_devices, backlog_values);
    fmt::print("(3)(4) outage: {} meters x {} values pushed as fast as the loop turns (while "
               "the queue's memory is under {:.0f} % of its bound) into a fresh {}, no uplink\n",
               backlog_devices, backlog_values, memory_share * 100, db.string());
    {
        mb::bench::bench_loop loop;
        auto q = open_queue(loop.get(), db);
        f.running.push_back(rss_at_rest(loop, 0));
        {
            const file_view view(db);
            push_until_committed(loop, *q, view, src, small);
            if (const auto n = view.readings(); n != static_cast<std::int64_t>(small))
                throw std::runtime_error(fmt::format("{} readings on disk, {} pushed", n, small));
        }
        f.running.push_back(rss_at_rest(loop, small));
        close_queue(loop, *q);
    }
    copy_db(db, small_copy);
    {
        mb::bench::bench_loop loop;
        const auto t_open = clock_type::now();
        auto q = open_queue(loop.get(), db);
        fmt::print("    reopened with {} readings in {:.0f} ms; stats().readings {}\n", small,
                   seconds_between(t_open, clock_type::now()) * 1e3, q->stats().readings);
        const bool peak_reset = mb::bench::reset_peak_rss();
        const auto rest = big - small;
        const double c0 = mb::bench::cpu_seconds();
        const auto t0 = clock_type::now();
        {
            const file_view view(db);
            f.pauses = push_until_committed(loop, *q, view, src, rest);
            const auto t1 = clock_type::now();
            const double c1 = mb::bench::cpu_seconds();
            f.ingest_readings = rest;
            f.ingest_secs = seconds_between(t0, t1);
            f.ingest_per_s = static_cast<double>(rest) / f.ingest_secs;
            f.cpu_ms_per_1000 = (c1 - c0) * 1e3 / (static_cast<double>(rest) / 1000.0);
            const auto on_disk = view.readings();
            const auto gaps = view.gaps();
            fmt::print("    {} readings on disk, {} gap items; peak RSS while pushing {:.1f} "
                       "MiB{}\n",
                       on_disk, gaps, mib(mb::bench::peak_rss_kib()),
                       peak_reset ? "" : " (since start: clear_refs refused)");
            if (on_disk != static_cast<std::int64_t>(big))
                throw std::runtime_error(
                    fmt::format("{} readings on disk, {} pushed", on_disk, big));
        }
        f.running.push_back(rss_at_rest(loop, big));
        const auto t_close = clock_type::now();
        close_queue(loop, *q);
        fmt::print("    clean close with {} readings: {:.0f} ms; file {:.1f} MiB\n", big,
                   seconds_between(t_close, clock_type::now()) * 1e3,
                   mib(mb::bench::db_bytes(db) / kib));
    }
    f.own_cpu_ms_per_1000 = own_cpu_ms_per_1000();
    return f;
}

// ---- (2) replay after a restart ----

struct replay_figures {
    std::uint64_t backlog = 0;
    double per_s = 0;
    double bare_per_s = 0;
};

replay_figures replay(const options& o, int port, const fs::path& db, int window,
                      std::uint64_t expected) {
    replay_figures r;
    std::string detail;
    {
        mb::bench::bench_loop loop;
        const auto t_open = clock_type::now();
        auto q = open_queue(loop.get(), db);
        const double open_ms = seconds_between(t_open, clock_type::now()) * 1e3;
        r.backlog = q->stats().readings;
        const auto rss_open = mb::bench::rss_kib();
        const bool peak_reset = mb::bench::reset_peak_rss();
        mb::bench::uplink_rig rig(loop, port, window, fmt::format("bench-replay-{}", window),
                                  std::move(q));
        const auto& c = rig.checked();
        rig.start();
        loop.run_until([&] { return rig.connects > 0 && rig.path().queue().size() == 0; },
                       budget(r.backlog, 1000), "the backlog to drain");
        const double secs = seconds_between(rig.connected_at, c.last_ack);
        r.per_s = static_cast<double>(c.acks) / secs;
        detail = fmt::format(
            "    max_inflight {}: opened in {:.0f} ms (RSS {:.1f} MiB), {} acked in {:.1f} s, "
            "first PUBACK {:.0f} ms after connecting, peak RSS {:.1f} MiB{}\n"
            "    published {}, repeated {}, out of order {}, gaps {}, disconnects {}, refused {}\n",
            window, open_ms, mib(rss_open), c.acks, secs,
            seconds_between(rig.connected_at, c.first_ack) * 1e3, mib(mb::bench::peak_rss_kib()),
            peak_reset ? "" : " (since start)", c.readings, c.repeats, c.backwards, c.gaps.size(),
            rig.disconnects, c.refusals);
        if (c.acks < expected || c.readings < expected)
            throw std::runtime_error(fmt::format("replay at {}: {} of {} readings acknowledged",
                                                 window, c.acks, expected));
        rig.stop_and_close();
    }
    const file_view after(db);
    detail += fmt::format("    after the drain and a clean close: {} readings left, file {:.1f} "
                          "MiB (db + WAL)\n",
                          after.readings(), mib(mb::bench::db_bytes(db) / kib));
    // The same messages from a bare libmosquitto loop: one reading of each meter, formatted.
    const mb::bench::reading_source src(backlog_devices, backlog_values);
    std::vector<mb::bench::bare_message> messages;
    for (std::size_t d = 0; d < src.devices(); ++d) {
        auto sample = src.sample(d);
        sample.ts_ms = 1764095000123;
        sample.seq = expected / backlog_devices;
        messages.push_back({fmt::format("meterbridge/bench-gw/{}/data", sample.device),
                            mb::bridge::reading_payload(sample)});
    }
    const auto bare = mb::bench::run_bare(port, window, messages, r.backlog, o.bare_limit);
    if (bare.acked == 0) throw std::runtime_error("the bare libmosquitto loop got no PUBACK");
    r.bare_per_s = bare.per_second;
    detail += fmt::format("    bare libmosquitto at max_inflight {}: {} acked, {:.0f}/s "
                          "({}-byte payloads)\n",
                          window, bare.acked, bare.per_second, messages.front().payload.size());
    fmt::print("{}", detail);
    return r;
}

// ---- the run ----

std::string rss_summary(const char* where, const std::vector<rss_line>& lines, bool by_heap,
                        bool& missed) {
    std::string rss;
    std::string heap;
    for (const auto& l : lines) {
        rss += fmt::format("{}{:.1f}", rss.empty() ? "" : " / ", mib(l.rss));
        heap += fmt::format("{}{:.1f}", heap.empty() ? "" : " / ", mib(l.heap));
    }
    // Growth over the last nine tenths of the backlog: fixed costs (a replay window, the page
    // cache) are paid by 100 000 readings already. In the process that pushed them as fast as
    // it could, the allocator keeps pages of the burst: what live objects hold is the heap.
    const auto held = [&](const rss_line& l) { return by_heap ? l.heap : l.rss; };
    const double growth = mib(held(lines.back())) - mib(held(lines.at(1)));
    const bool flat = growth < rss_flat_mib;
    missed |= !flat;
    return fmt::format("(4) RSS at backlog {} / {} / {}, {}: {} MiB (heap in use {}) -- {} "
                       "{:+.1f} MiB from {} to {}, target < {:+.0f}: {}",
                       lines[0].backlog, lines[1].backlog, lines[2].backlog, where, rss, heap,
                       by_heap ? "heap" : "RSS", growth, lines[1].backlog, lines[2].backlog,
                       rss_flat_mib, verdict(flat));
}

std::vector<std::string> figures_backlog(const options& o, int port, const fs::path& dir,
                                         bool& missed) {
    const auto db = dir / "outage.db";
    const auto small_copy = dir / "outage-small.db";
    const auto replay_copy = dir / "replay-100.db";
    const auto f = build_backlog(o, db, small_copy);
    const auto big = f.running.back().backlog;
    std::vector<rss_line> after_restart;
    after_restart.push_back(rss_in_child(dir / "empty.db"));
    after_restart.push_back(rss_in_child(small_copy));
    copy_db(db, replay_copy); // before a child opens it: both replays start from the same file
    after_restart.push_back(rss_in_child(db));
    fmt::print("    RSS in a fresh process opening the file: {:.1f} / {:.1f} / {:.1f} MiB\n",
               mib(after_restart[0].rss), mib(after_restart[1].rss), mib(after_restart[2].rss));
    for (std::size_t i = 0; i < after_restart.size(); ++i)
        if (after_restart[i].backlog != f.running[i].backlog)
            throw std::runtime_error(fmt::format("the reopened file holds {} readings, not {}",
                                                 after_restart[i].backlog, f.running[i].backlog));

    std::vector<std::string> lines;
    for (const int window : {32, 100}) {
        const auto r = replay(o, port, window == 32 ? db : replay_copy, window, big);
        const double ratio = r.per_s / r.bare_per_s;
        missed |= ratio < replay_target;
        lines.push_back(fmt::format(
            "(2) replay of {} readings after a restart, max_inflight {}: {:.0f} readings/s; bare "
            "libmosquitto {:.0f}/s; ratio {:.2f} -- target >= {}: {}",
            r.backlog, window, r.per_s, r.bare_per_s, ratio, replay_target,
            verdict(ratio >= replay_target)));
    }
    lines.push_back(fmt::format(
        "(3) outage: {:.0f} readings/s committed to disk ({} readings in {:.2f} s, pushed while "
        "the queue's memory was under {:.0f} % of its bound, {} waits); CPU {:.1f} ms per 1000 "
        "readings (of which the bench making readings {:.1f})",
        f.ingest_per_s, f.ingest_readings, f.ingest_secs, memory_share * 100, f.pauses,
        f.cpu_ms_per_1000, f.own_cpu_ms_per_1000));
    lines.push_back(rss_summary("after a restart (fresh process)", after_restart, false, missed));
    lines.push_back(rss_summary("in the process that stored them", f.running, true, missed));
    return lines;
}

int run(const options& o) {
    mb::log::set_level(mb::log::level::warn);
    const auto dir = make_workdir(o.base);
    const auto type = mb::bench::fs_type(dir);
    int status = 0;
    try {
        if (type == "tmpfs" || type == "ramfs")
            throw std::runtime_error(dir.string() + " is on " + type +
                                     ": write_bytes means nothing there; set MB_BENCH_DIR");
        const mb::buffer::buffer_settings defaults;
        fmt::print("buffer_bench: files in {} ({}), flush_interval {} ms, sync {}, scale {}\n",
                   dir.string(), type, defaults.flush_interval.count(),
                   defaults.sync_full ? "full" : "normal", o.scale);
        std::fflush(stdout);
        mosquitto_lib_init();
        std::vector<std::string> lines;
        bool missed = false;
        {
            const mb::bench::broker b;
            if (o.only.empty() || o.only == "disk")
                lines.push_back(figure_disk(o, b.port(), dir, missed));
            std::fflush(stdout);
            if (o.only.empty() || o.only == "backlog")
                for (auto& l : figures_backlog(o, b.port(), dir, missed))
                    lines.push_back(std::move(l));
        }
        mosquitto_lib_cleanup();
        fmt::print("\n== buffer_bench figures\n");
        for (const auto& l : lines)
            fmt::print("{}\n", l);
        fmt::print("{}\n", missed ? "some targets missed" : "all targets met");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "buffer_bench: %s\n", e.what());
        status = 1;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    return status;
}

// In a fresh process: open the file, let the queue run two flush intervals, print the backlog
// it reports, RSS and the heap in use (KiB), close.
int rss_child(const fs::path& db) {
    mb::log::set_level(mb::log::level::warn);
    mb::bench::bench_loop loop;
    auto q = open_queue(loop.get(), db);
    loop.run_for(2 * settings_for(db).flush_interval);
    const auto rss = mb::bench::rss_kib();
    fmt::print("{} {} {}\n", q->stats().readings, rss, mb::bench::heap_in_use_kib());
    close_queue(loop, *q);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 2 && args[0] == "--rss-child") return rss_child(args[1]);
        options o;
        o.scale = env_number("MB_BENCH_SCALE", 1);
        o.rate = env_number("MB_BENCH_RATE", 2000);
        o.bare_limit = std::chrono::seconds(
            static_cast<std::int64_t>(std::ceil(env_number("MB_BENCH_BARE_SECONDS", 10))));
        const char* base = std::getenv("MB_BENCH_DIR");
        o.base = base != nullptr && *base != '\0' ? fs::path(base) : fs::path("/var/tmp");
        if (!args.empty()) o.only = args[0];
        if (args.size() > 1 || (!o.only.empty() && o.only != "disk" && o.only != "backlog")) {
            std::fprintf(stderr, "usage: buffer_bench [disk|backlog]\n");
            return 2;
        }
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "buffer_bench: %s\n", e.what());
        return 1;
    }
}
