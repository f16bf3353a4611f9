#pragma once
// The moving parts of buffer_bench around the delivery queue: a libuv loop that runs until a
// condition holds (or fails the run), readings shaped like meter polls, two ways of pushing
// them (at a fixed rate, as the gateway does after each poll; or as fast as the loop turns),
// and the daemon's own path out (daemon/gateway/delivery_path: queue, forwarder, uplink) with
// the queue behind a check of what it publishes (no seq twice, oldest first).
#include "bridge/uplink.hpp"
#include "buffer/delivery_queue.hpp"
#include "common/uv_handle.hpp"
#include "daemon/gateway/delivery_path.hpp"
#include "model/gap.hpp"
#include "model/outlet.hpp"
#include "model/reading.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <fmt/format.h>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <uv.h>
#include <vector>

namespace mb::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

class bench_loop {
public:
    bench_loop() {
        if (const int rc = uv_loop_init(&loop_); rc != 0)
            throw std::runtime_error(fmt::format("uv_loop_init: {}", uv_strerror(rc)));
    }
    ~bench_loop() {
        for (int i = 0; i < 1000 && uv_loop_close(&loop_) == UV_EBUSY; ++i)
            uv_run(&loop_, UV_RUN_NOWAIT);
    }
    bench_loop(const bench_loop&) = delete;
    bench_loop& operator=(const bench_loop&) = delete;
    bench_loop(bench_loop&&) = delete;
    bench_loop& operator=(bench_loop&&) = delete;

    uv_loop_t& get() { return loop_; }
    // A callback failed: the next run_until throws it.
    void fail(std::exception_ptr e) {
        if (!failure_) failure_ = std::move(e);
    }

    // Runs the loop until `done` (checked at least every 10 ms); throws after `limit`.
    void run_until(const std::function<bool()>& done, clock_type::duration limit,
                   std::string_view what) {
        auto tick = make_uv_timer(loop_, nullptr);
        uv_timer_start(
            tick.get(), [](uv_timer_t*) {}, 10, 10);
        const auto start = clock_type::now();
        while (true) {
            if (failure_) std::rethrow_exception(failure_);
            if (done()) return;
            if (clock_type::now() - start > limit)
                throw std::runtime_error(fmt::format("gave up after {:.0f} s waiting for {}",
                                                     std::chrono::duration<double>(limit).count(),
                                                     what));
            uv_run(&loop_, UV_RUN_ONCE);
        }
    }
    // The loop runs (timers, the queue's flushes) for `d` of wall time.
    void run_for(clock_type::duration d) {
        const auto end = clock_type::now() + d;
        run_until([&] { return clock_type::now() >= end; }, d + std::chrono::seconds(10), "time");
    }

private:
    uv_loop_t loop_{};
    std::exception_ptr failure_;
};

// Measurement names of a real profile (acrel-adw300 and the like), so payloads and stored
// bodies have a realistic size.
inline constexpr std::array<std::string_view, 30> value_names{"voltage_l1",
                                                              "voltage_l2",
                                                              "voltage_l3",
                                                              "current_l1",
                                                              "current_l2",
                                                              "current_l3",
                                                              "active_power_l1",
                                                              "active_power_l2",
                                                              "active_power_l3",
                                                              "active_power_total",
                                                              "apparent_power_l1",
                                                              "apparent_power_l2",
                                                              "apparent_power_l3",
                                                              "reactive_power_l1",
                                                              "reactive_power_l2",
                                                              "reactive_power_l3",
                                                              "power_factor_l1",
                                                              "power_factor_l2",
                                                              "power_factor_l3",
                                                              "apparent_power_total",
                                                              "reactive_power_total",
                                                              "power_factor_total",
                                                              "frequency",
                                                              "current_neutral",
                                                              "energy_import",
                                                              "energy_export",
                                                              "reactive_energy_import",
                                                              "reactive_energy_export",
                                                              "voltage_l1_l2",
                                                              "voltage_l2_l3"};

// Readings of `devices` meters with `values` measurements each, round robin.
class reading_source {
public:
    reading_source(std::size_t devices, std::size_t values) {
        for (std::size_t d = 0; d < devices; ++d) {
            model::reading r;
            r.device = fmt::format("meter-{:03}", d);
            for (std::size_t i = 0; i < std::min(values, value_names.size()); ++i)
                r.values.emplace_back(std::string(value_names.at(i)),
                                      230.0 + static_cast<double>(i) * 1.25);
            templates_.push_back(std::move(r));
        }
    }

    model::reading next() {
        model::reading r = templates_[n_ % templates_.size()];
        r.ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
        const double wobble = 0.001 * static_cast<double>(n_ % 997);
        for (auto& v : r.values)
            v.value += wobble;
        ++n_;
        return r;
    }
    [[nodiscard]] const model::reading& sample(std::size_t device) const {
        return templates_.at(device);
    }
    [[nodiscard]] std::size_t devices() const { return templates_.size(); }

private:
    std::vector<model::reading> templates_;
    std::uint64_t n_ = 0;
};

// Pushes `count` readings at `rate` per second in 10 ms ticks into the path, as the gateway
// does after each poll.
class rate_pusher {
public:
    rate_pusher(bench_loop& loop, daemon::delivery_path& path, reading_source& src,
                std::uint64_t count, double rate)
        : loop_(loop)
        , path_(path)
        , src_(src)
        , count_(count)
        , rate_(rate)
        , timer_(make_uv_timer(loop.get(), this)) {}

    void start() {
        start_ = clock_type::now();
        uv_timer_start(timer_.get(), &on_tick, 10, 10);
    }
    [[nodiscard]] bool done() const { return pushed_ == count_; }
    [[nodiscard]] std::uint64_t pushed() const { return pushed_; }

private:
    static void on_tick(uv_timer_t* t) noexcept {
        auto& self = *static_cast<rate_pusher*>(t->data);
        try {
            const auto due = std::min(
                self.count_, static_cast<std::uint64_t>(
                                 seconds_between(self.start_, clock_type::now()) * self.rate_));
            for (; self.pushed_ < due; ++self.pushed_)
                self.path_.push(self.src_.next());
            if (self.done()) uv_timer_stop(t);
        } catch (...) {
            uv_timer_stop(t);
            self.loop_.fail(std::current_exception());
        }
    }

    bench_loop& loop_;
    daemon::delivery_path& path_;
    reading_source& src_;
    std::uint64_t count_;
    double rate_;
    std::uint64_t pushed_ = 0;
    clock_type::time_point start_;
    uv_handle<uv_timer_t> timer_;
};

// Pushes `count` readings as fast as the loop turns: a batch per iteration, so the queue's
// own timers and the writer thread's completions still run in between. While `may_push`
// says no it pauses, asking again every 2 ms.
class burst_pusher {
public:
    static constexpr std::size_t batch = 1000;

    burst_pusher(bench_loop& loop, buffer::delivery_queue& q, reading_source& src,
                 std::uint64_t count, std::function<bool()> may_push)
        : loop_(loop)
        , q_(q)
        , src_(src)
        , count_(count)
        , may_push_(std::move(may_push))
        , idle_(make_uv_handle<uv_idle_t>())
        , pause_(make_uv_timer(loop.get(), this)) {
        if (const int rc = uv_idle_init(&loop.get(), idle_.get()); rc != 0) {
            delete idle_.release(); // never initialized: nothing for uv_close to close
            throw std::runtime_error(fmt::format("uv_idle_init: {}", uv_strerror(rc)));
        }
        idle_->data = this;
    }

    void start() {
        if (count_ == 0) return;
        uv_idle_start(idle_.get(), &on_idle);
    }
    [[nodiscard]] bool done() const { return pushed_ == count_; }
    [[nodiscard]] std::uint64_t pushed() const { return pushed_; }
    // How often the pusher waited.
    [[nodiscard]] std::uint64_t pauses() const { return pauses_; }

private:
    static void on_idle(uv_idle_t* h) noexcept {
        auto& self = *static_cast<burst_pusher*>(h->data);
        try {
            if (!self.may_push_()) {
                ++self.pauses_;
                uv_idle_stop(h);
                uv_timer_start(self.pause_.get(), &on_pause, 2, 2);
                return;
            }
            for (std::size_t i = 0; i < batch && self.pushed_ < self.count_; ++i, ++self.pushed_)
                self.q_.push(self.src_.next());
            if (self.done()) uv_idle_stop(h);
        } catch (...) {
            uv_idle_stop(h);
            self.loop_.fail(std::current_exception());
        }
    }
    static void on_pause(uv_timer_t* t) noexcept {
        auto& self = *static_cast<burst_pusher*>(t->data);
        try {
            if (!self.may_push_()) return;
            uv_timer_stop(t);
            uv_idle_start(self.idle_.get(), &on_idle);
        } catch (...) {
            uv_timer_stop(t);
            self.loop_.fail(std::current_exception());
        }
    }

    bench_loop& loop_;
    buffer::delivery_queue& q_;
    reading_source& src_;
    std::uint64_t count_;
    std::function<bool()> may_push_;
    std::uint64_t pushed_ = 0;
    std::uint64_t pauses_ = 0;
    uv_handle<uv_idle_t> idle_;
    uv_handle<uv_timer_t> pause_;
};

// The delivery queue in front of the daemon's, noting what it hands over (a seq published
// twice for a device, or one older than a seq already published for it, is counted) and the
// PUBACKs and refusals that come back.
class checked_queue final : public buffer::delivery_queue {
public:
    explicit checked_queue(std::unique_ptr<buffer::delivery_queue> inner)
        : inner_(std::move(inner)) {
        inner_->on_ready([this] { ready(); });
    }
    ~checked_queue() override { inner_->on_ready(nullptr); }
    checked_queue(const checked_queue&) = delete;
    checked_queue& operator=(const checked_queue&) = delete;
    checked_queue(checked_queue&&) = delete;
    checked_queue& operator=(checked_queue&&) = delete;

    std::uint64_t push(model::reading r) override { return inner_->push(std::move(r)); }
    void pump(model::outlet& out) override {
        tap_.out = &out;
        inner_->pump(tap_);
    }
    void acked(int mid) override {
        note_ack();
        inner_->acked(mid);
    }
    void refused(int mid, const std::string& reason) override {
        note_ack();
        ++refusals;
        inner_->refused(mid, reason);
    }
    void requeue_inflight() override { inner_->requeue_inflight(); }
    void close(std::function<void()> done) override { inner_->close(std::move(done)); }
    [[nodiscard]] model::buffer_stats stats() const override { return inner_->stats(); }
    [[nodiscard]] std::size_t inflight() const override { return inner_->inflight(); }
    [[nodiscard]] std::size_t size() const override { return inner_->size(); }
    [[nodiscard]] std::uint64_t dropped() const override { return inner_->dropped(); }
    [[nodiscard]] std::string error() const override { return inner_->error(); }

    std::uint64_t readings = 0;                // published (handed over)
    std::uint64_t repeats = 0;                 // a seq published again
    std::uint64_t backwards = 0;               // first published after a higher seq of its device
    std::map<std::string, std::uint64_t> gaps; // by reason
    std::uint64_t acks = 0;                    // PUBACKs, refusals included
    std::uint64_t refusals = 0;
    clock_type::time_point first_ack;
    clock_type::time_point last_ack;

private:
    // The outlet pump() was given, as the queue sees it: what it takes is noted.
    struct tap final : model::outlet {
        checked_queue& q;
        model::outlet* out = nullptr;
        explicit tap(checked_queue& owner)
            : q(owner) {}
        model::publish_attempt publish(const model::reading& r) override {
            auto a = out->publish(r);
            if (a.what == model::publish_attempt::outcome::sent) q.note(r.device, r.seq);
            return a;
        }
        model::publish_attempt publish(const model::gap& g) override {
            auto a = out->publish(g);
            if (a.what == model::publish_attempt::outcome::sent)
                ++q.gaps[std::string(model::reason_name(g.reason))];
            return a;
        }
        [[nodiscard]] bool connected() const override { return out->connected(); }
        void report_to(model::delivery_receipts* r) override { out->report_to(r); }
    };
    struct device_track {
        std::vector<bool> seen; // by seq
        std::uint64_t highest = 0;
    };

    void note(const std::string& device, std::uint64_t seq) {
        auto& d = devices_[device];
        ++readings;
        if (seq >= d.seen.size()) d.seen.resize(std::max<std::size_t>(seq + 1, d.seen.size() * 2));
        if (d.seen[seq]) {
            ++repeats;
            return;
        }
        d.seen[seq] = true;
        if (seq < d.highest) ++backwards;
        d.highest = std::max(d.highest, seq);
    }
    void note_ack() {
        const auto now = clock_type::now();
        if (acks == 0) first_ack = now;
        last_ack = now;
        ++acks;
    }

    std::unique_ptr<buffer::delivery_queue> inner_;
    tap tap_{*this};
    std::unordered_map<std::string, device_track> devices_;
};

// The daemon's path out (delivery_path) from a queue, behind a checked_queue, to the bench
// broker; it stops in the daemon's order (PUBACKs, offline status, then the queue's close).
class uplink_rig {
public:
    uplink_rig(bench_loop& loop, int port, int window, std::string client_id,
               std::unique_ptr<buffer::delivery_queue> queue)
        : loop_(loop)
        , port_(port)
        , window_(window)
        , client_id_(std::move(client_id)) {
        auto checked = std::make_unique<checked_queue>(std::move(queue));
        checked_ = checked.get();
        path_ =
            std::make_unique<daemon::delivery_path>(loop.get(), std::move(checked), callbacks());
    }
    uplink_rig(const uplink_rig&) = delete;
    uplink_rig& operator=(const uplink_rig&) = delete;
    uplink_rig(uplink_rig&&) = delete;
    uplink_rig& operator=(uplink_rig&&) = delete;
    ~uplink_rig() = default;

    void start() {
        path_->connect(settings(), bridge::command_handler{});
        if (start_error_) throw std::system_error(start_error_, "uplink start");
    }
    // The daemon's stop: the PUBACKs (every reading is acknowledged by then), the offline
    // status, then the queue closes.
    void stop_and_close() {
        bool stopped = false;
        path_->stop_uplink(std::chrono::seconds(5), [&] { stopped = true; });
        loop_.run_until([&] { return stopped; }, std::chrono::seconds(15), "the uplink to stop");
        bool closed = false;
        path_->close([&] { closed = true; });
        loop_.run_until([&] { return closed; }, std::chrono::seconds(120), "the queue to close");
    }
    [[nodiscard]] daemon::delivery_path& path() { return *path_; }
    [[nodiscard]] const checked_queue& checked() const { return *checked_; }

    int connects = 0;
    int disconnects = 0;
    clock_type::time_point connected_at;

private:
    [[nodiscard]] bridge::uplink_settings settings() const {
        bridge::uplink_settings s;
        s.link.host = "127.0.0.1";
        s.link.port = port_;
        s.link.client_id = client_id_;
        s.link.max_inflight = window_;
        s.gateway_id = "bench-gw";
        s.commands = false;
        return s;
    }
    daemon::delivery_path::callbacks callbacks() {
        daemon::delivery_path::callbacks cb;
        cb.on_start_failed = [this](std::error_code ec) { start_error_ = ec; };
        cb.on_connect = [this] {
            if (connects++ == 0) connected_at = clock_type::now();
        };
        cb.on_disconnect = [this] { ++disconnects; };
        return cb;
    }

    bench_loop& loop_;
    int port_;
    int window_;
    std::string client_id_;
    std::error_code start_error_;
    checked_queue* checked_ = nullptr; // owned by path_
    std::unique_ptr<daemon::delivery_path> path_;
};

} // namespace mb::bench
