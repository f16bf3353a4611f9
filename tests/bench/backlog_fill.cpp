// A buffer file holding a backlog, made fast for tests/bench/footprint_bench.py (not a bench
// itself): the daemon's own delivery queue (open_delivery_queue, the SQLite buffer) with no
// uplink, fed `count` readings of `devices` meters (meter-000, meter-001, ...) with 29 values
// each, round robin, as fast as its writer commits them, then closed. What the daemon opens
// afterwards is a file as an outage of that length would have left it.
//
//   backlog_fill DB COUNT DEVICES
#include "buffer/delivery_queue.hpp"
#include "buffer/footprint.hpp"
#include "buffer/item.hpp"
#include "buffer/settings.hpp"
#include "buffer/sqlite_handle.hpp"
#include "buffer/sqlite_queue.hpp"
#include "buffer_bench_rig.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;

int run(const std::filesystem::path& db, std::uint64_t count, std::size_t devices) {
    mb::bench::bench_loop loop;
    mb::buffer::buffer_settings s;
    s.path = db;
    s.max_size = 16ULL << 30U; // nothing dropped while filling
    auto opened = mb::buffer::open_delivery_queue(loop.get(), s);
    if (!opened.queue) throw std::runtime_error("cannot open the buffer: " + opened.error);
    auto& q = *opened.queue;
    const auto* sq = dynamic_cast<const mb::buffer::sqlite_queue*>(&q);
    if (sq == nullptr) throw std::runtime_error("the queue is not the SQLite buffer");

    mb::bench::reading_source src(devices, 29);
    // The queue's memory stays under half its bound: the writer keeps up, nothing is dropped.
    const auto per_item = mb::buffer::footprint(mb::buffer::item{src.sample(0)});
    const auto most = mb::buffer::sqlite_queue::memory_cap / 2 / per_item;
    mb::bench::burst_pusher pusher(loop, q, src, count, [&] {
        return sq->in_memory() + mb::bench::burst_pusher::batch <= most;
    });
    pusher.start();
    loop.run_until([&] { return pusher.done() && sq->in_memory() == 0; }, 3600s,
                   "the readings to be committed");
    if (q.dropped() != 0) throw std::runtime_error(fmt::format("{} dropped", q.dropped()));
    bool closed = false;
    q.close([&] { closed = true; });
    loop.run_until([&] { return closed; }, 120s, "the queue to close");
    const auto held = mb::buffer::query_int(mb::buffer::open_sqlite(db, SQLITE_OPEN_READONLY).get(),
                                            "SELECT count(*) FROM items WHERE kind = 0");
    fmt::print("backlog_fill: {} readings of {} meters in {} ({} bytes)\n", held, devices,
               db.string(), std::filesystem::file_size(db));
    return static_cast<std::uint64_t>(held) == count ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fputs("usage: backlog_fill DB COUNT DEVICES\n", stderr);
        return 2;
    }
    try {
        return run(argv[1], std::stoull(argv[2]), std::stoull(argv[3]));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "backlog_fill: %s\n", e.what());
        return 1;
    }
}
