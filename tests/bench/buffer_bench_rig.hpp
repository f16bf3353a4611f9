#pragma once
// The moving parts of buffer_bench around the delivery queue: a libuv loop that runs until a
// condition holds (or fails the run), readings shaped like meter polls, two ways of pushing
// them (at a fixed rate, as the gateway does after each poll; or as fast as the loop turns),
// and bridge::uplink glued to the queue by buffer::forwarder the way daemon/gateway/gateway.cpp
// does, behind an outlet that checks what the queue publishes (no seq twice, oldest first).
#include "bridge/uplink.hpp"
#include "buffer/delivery_queue.hpp"
#include "buffer/forwarder.hpp"
#include "common/uv_handle.hpp"
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
            v.second += wobble;
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

// Pushes `count` readings at `rate` per second in 10 ms ticks, pumping after each push as
// the gateway does after each poll.
class rate_pusher {
public:
    rate_pusher(bench_loop& loop, buffer::delivery_queue& q, buffer::forwarder& fwd,
                reading_source& src, std::uint64_t count, double rate)
        : loop_(loop)
        , q_(q)
        , fwd_(fwd)
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
            for (; self.pushed_ < due; ++self.pushed_) {
                self.q_.push(self.src_.next());
                self.fwd_.pump();
            }
            if (self.done()) uv_timer_stop(t);
        } catch (...) {
            uv_timer_stop(t);
            self.loop_.fail(std::current_exception());
        }
    }

    bench_loop& loop_;
    buffer::delivery_queue& q_;
    buffer::forwarder& fwd_;
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

// An outlet in front of the uplink that notes what the queue hands over: a seq published
// twice for a device, or one older than a seq already published for it, is counted. The
// uplink's receipts pass through it on their way to the forwarder, counted as well.
class checked_outlet final : public model::outlet, public model::delivery_receipts {
public:
    explicit checked_outlet(model::outlet& inner)
        : inner_(inner) {}
    ~checked_outlet() override { inner_.report_to(nullptr); }
    checked_outlet(const checked_outlet&) = delete;
    checked_outlet& operator=(const checked_outlet&) = delete;
    checked_outlet(checked_outlet&&) = delete;
    checked_outlet& operator=(checked_outlet&&) = delete;

    model::publish_attempt publish(const model::reading& r) override {
        auto a = inner_.publish(r);
        if (a.what == model::publish_attempt::outcome::sent) note(r.device, r.seq);
        return a;
    }
    model::publish_attempt publish(const model::gap& g) override {
        auto a = inner_.publish(g);
        if (a.what == model::publish_attempt::outcome::sent)
            ++gaps[std::string(model::reason_name(g.reason))];
        return a;
    }
    [[nodiscard]] bool connected() const override { return inner_.connected(); }
    void report_to(model::delivery_receipts* r) override {
        receipts_ = r;
        inner_.report_to(r != nullptr ? this : nullptr);
    }

    void acked(int mid) override {
        note_ack();
        receipts_->acked(mid);
    }
    void refused(int mid, std::string_view reason) override {
        note_ack();
        ++refusals;
        receipts_->refused(mid, reason);
    }
    void connected() override {
        if (connects++ == 0) connected_at = clock_type::now();
        receipts_->connected();
    }
    void disconnected() override {
        ++disconnects;
        receipts_->disconnected();
    }

    std::uint64_t readings = 0;                // published (handed over)
    std::uint64_t repeats = 0;                 // a seq published again
    std::uint64_t backwards = 0;               // first published after a higher seq of its device
    std::map<std::string, std::uint64_t> gaps; // by reason
    std::uint64_t acks = 0;                    // PUBACKs, refusals included
    std::uint64_t refusals = 0;
    int connects = 0;
    int disconnects = 0;
    clock_type::time_point connected_at;
    clock_type::time_point first_ack;
    clock_type::time_point last_ack;

private:
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

    model::outlet& inner_;
    model::delivery_receipts* receipts_ = nullptr;
    std::unordered_map<std::string, device_track> devices_;
};

// bridge::uplink to the bench broker, fed by `fwd` through a checked_outlet.
class uplink_rig {
public:
    uplink_rig(uv_loop_t& loop, int port, int window, const std::string& client_id,
               buffer::forwarder& fwd, buffer::delivery_queue& q)
        : fwd_(fwd)
        , up_(std::make_unique<bridge::uplink>(loop, settings(port, window, client_id),
                                               callbacks(q), bridge::command_handler{}))
        , checker_(std::make_unique<checked_outlet>(*up_)) {
        fwd_.attach(checker_.get());
    }
    ~uplink_rig() { fwd_.attach(nullptr); }
    uplink_rig(const uplink_rig&) = delete;
    uplink_rig& operator=(const uplink_rig&) = delete;
    uplink_rig(uplink_rig&&) = delete;
    uplink_rig& operator=(uplink_rig&&) = delete;

    void start() {
        if (const auto ec = up_->start()) throw std::system_error(ec, "uplink start");
    }
    void stop() { up_->stop(); }
    [[nodiscard]] const checked_outlet& checked() const { return *checker_; }

    bool stopped = false;

private:
    static bridge::uplink_settings settings(int port, int window, const std::string& client_id) {
        bridge::uplink_settings s;
        s.link.host = "127.0.0.1";
        s.link.port = port;
        s.link.client_id = client_id;
        s.link.max_inflight = window;
        s.gateway_id = "bench-gw";
        s.commands = false;
        return s;
    }
    bridge::uplink::callbacks callbacks(buffer::delivery_queue& q) {
        bridge::uplink::callbacks cb;
        cb.on_stopped = [this] { stopped = true; };
        cb.buffer = [&q] { return q.stats(); };
        return cb;
    }

    buffer::forwarder& fwd_;
    std::unique_ptr<bridge::uplink> up_;
    std::unique_ptr<checked_outlet> checker_;
};

} // namespace mb::bench
