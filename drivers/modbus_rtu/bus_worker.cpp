#include "drivers/modbus_rtu/bus_worker.hpp"

#include "common/log.hpp"
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"
#include "drivers/modbus_rtu/poll_runner.hpp"

#include <algorithm>

namespace mb::drivers::rtu {
namespace {

using std::chrono::milliseconds;
// The schedule and the waits of the bus thread run on the real monotonic clock: they wait on
// a condition variable, which a test clock could not wake. Timestamps come from clock_.
using steady = std::chrono::steady_clock;

milliseconds since(steady::time_point t) {
    return std::chrono::duration_cast<milliseconds>(steady::now() - t);
}

std::vector<read_plan> plan_devices(const bus_settings& settings) {
    std::vector<read_plan> plans;
    plans.reserve(settings.devices.size());
    for (const auto& d : settings.devices) {
        plan_options opt;
        opt.max_gap = settings.max_gap;
        opt.only = d.only;
        opt.pt_override = d.pt_ratio.has_value();
        opt.ct_override = d.ct_ratio.has_value();
        plans.push_back(d.prof ? plan_reads(*d.prof, opt) : read_plan{});
    }
    return plans;
}

} // namespace

bus_worker::bus_worker(uv_loop_t& loop, bus_settings settings, const common::clock& clock,
                       deliver_fn deliver, ended_fn ended)
    : settings_(std::move(settings))
    , address_(parse_port(settings_.port).address)
    , clock_(clock)
    , deliver_(std::move(deliver))
    , ended_fn_(std::move(ended))
    , plans_(plan_devices(settings_))
    , decode_plans_(plans_)
    , async_(make_uv_handle<uv_async_t>()) {
    if (const int rc = uv_async_init(&loop, async_.get(), &bus_worker::on_async); rc != 0) {
        delete async_.release(); // never initialized: nothing for uv_close to close
        start_error_ =
            fmt::format("cannot start the bus thread: uv_async_init: {}", uv_strerror(rc));
        stopped_ = true;
        ended_ = true;
        return;
    }
    async_->data = this;
    thread_ = std::jthread([this](const std::stop_token& st) { thread_main(st); });
}

bus_worker::~bus_worker() {
    if (!thread_.joinable()) return; // ended and joined already, or never started
    request_stop();
    thread_.join(); // at most one request timeout: only when the owner could not wait
    // async_ closes with this object; results it still held are dropped.
}

bool bus_worker::submit(bus_command c) {
    {
        std::lock_guard lk(mu_);
        if (stopped_ || commands_.size() >= max_commands) return false;
        commands_.push_back(std::move(c));
    }
    cv_.notify_all();
    return true;
}

void bus_worker::request_stop() {
    {
        std::lock_guard lk(mu_);
        if (stopped_) return;
        stopped_ = true;
    }
    thread_.request_stop();
    cv_.notify_all();
}

void bus_worker::thread_main(const std::stop_token& st) noexcept {
    try {
        run(st);
    } catch (const std::exception& e) {
        // Nothing in run() is meant to throw; if it did, the bus says so and ends.
        log::error("rtu[{}]: bus thread failed: {}", settings_.name, e.what());
        try {
            poll_result r;
            r.what = poll_result::kind::port_state;
            r.port_open = false;
            r.error = fmt::format("bus thread failed: {}", e.what());
            push(std::move(r));
        } catch (...) { // out of memory: the end is still told, below
        }
    } catch (...) {
        log::error("rtu[{}]: bus thread failed", settings_.name);
    }
    {
        std::lock_guard lk(mu_);
        finished_ = true;
    }
    // The loop closes async_ only after joining this thread, so the handle outlives this call.
    uv_async_send(async_.get());
}

void bus_worker::push(poll_result&& r) {
    {
        std::lock_guard lk(mu_);
        results_.push_back(std::move(r));
    }
    uv_async_send(async_.get());
}

void bus_worker::on_async(uv_async_t* a) noexcept {
    auto& self = *static_cast<bus_worker*>(a->data);
    try {
        self.on_wake();
    } catch (const std::exception& e) { // never unwind into libuv
        log::error("rtu[{}]: {}", self.settings_.name, e.what());
    } catch (...) {
        log::error("rtu[{}]: unknown error on the loop side of the bus", self.settings_.name);
    }
}

void bus_worker::on_wake() {
    // libuv coalesces sends: one wake-up may stand for many results, so take them all. The
    // end is read with them: when it is set, every result of the thread is in this batch.
    std::vector<poll_result> batch;
    bool finished = false;
    {
        std::lock_guard lk(mu_);
        batch.swap(results_);
        finished = finished_;
    }
    deliver(batch);
    if (!finished || ended_) return;
    thread_.join(); // it has left run(): this waits for nothing but its return
    ended_ = true;
    log::info("rtu[{}]: stopped; {} closed", settings_.name,
              address_.network() ? address_.subject() : settings_.port);
    async_.reset(); // uv_close from its own callback is allowed; freed in the close callback
    // Last: the owner may destroy this bus_worker from `ended`.
    if (auto ended = std::move(ended_fn_)) ended();
}

void bus_worker::deliver(std::vector<poll_result>& batch) {
    for (auto& r : batch) {
        try {
            if (deliver_) deliver_(std::move(r));
        } catch (const std::exception& e) {
            log::error("rtu[{}]: result handler failed: {}", settings_.name, e.what());
        } catch (...) {
            log::error("rtu[{}]: result handler failed", settings_.name);
        }
    }
}

bool bus_worker::open_line(bus_line& line, const std::stop_token& st) {
    const auto err = line.open();
    if (err.empty()) {
        if (address_.network())
            log::info("rtu[{}]: connected to {} ({})", settings_.name, address_.endpoint(),
                      address_.kind == transport::modbus_tcp ? "Modbus TCP" : "RTU over TCP");
        else
            log::info("rtu[{}]: {} open at {} {}{}{}{}", settings_.name, settings_.port,
                      settings_.baud, settings_.data_bits, settings_.parity, settings_.stop_bits,
                      settings_.rs485 ? " rs485" : "");
        if (reported_down_) {
            poll_result r;
            r.what = poll_result::kind::port_state;
            push(std::move(r));
        } else if (!lost_why_.empty()) {
            if (const auto quiet = flap_log_.allow(lost_why_); quiet >= 0)
                log::warn("rtu[{}]: {} failed ({}) and was {} at once{}", settings_.name,
                          address_.subject(), lost_why_,
                          address_.network() ? "re-established" : "reopened",
                          quiet > 0 ? fmt::format(" ({} more since the last report)", quiet)
                                    : std::string{});
        }
        reported_down_ = false;
        lost_why_.clear();
        backoff_ = milliseconds::zero();
        reconnect_attempt_ = 0;
        return true;
    }
    const auto wait = address_.network() ? connection_failed(err) : settings_.reopen_every;
    if (!reported_down_) {
        // Once per outage: every device of the bus goes offline with this as its last_error.
        const auto every = pretty_duration(settings_.reopen_every);
        auto why = lost_why_.empty() ? fmt::format("cannot open port {}: {}; retrying every {}",
                                                   settings_.port, err, every)
                                     : fmt::format("port {} lost: {}; reopening every {}",
                                                   settings_.port, err, every);
        log::error("rtu[{}]: {}", settings_.name, why);
        report_down(std::move(why));
    }
    // Commands cannot wait for a port that is gone: fail them now.
    std::deque<bus_command> failed;
    {
        std::unique_lock lk(mu_);
        failed.swap(commands_);
        cv_.wait_until(lk, st, steady::now() + wait, [&] { return !commands_.empty(); });
    }
    for (auto& c : failed) {
        poll_result r;
        r.what =
            c.what == bus_command::kind::read ? poll_result::kind::read : poll_result::kind::write;
        r.command_id = c.id;
        r.device = c.device;
        r.failed = 1;
        r.last = {line_error::port,
                  address_.network()
                      ? fmt::format("not connected to {}: {}", address_.endpoint(), err)
                      : "port " + settings_.port + " is not open: " + err};
        r.error = r.last.text;
        if (!c.writes.empty()) r.subject = c.writes.front().name;
        r.outcome = poll_outcome::no_answer;
        push(std::move(r));
    }
    return false;
}

milliseconds bus_worker::connection_failed(const std::string& err) {
    // A converter: back off (the shared policy, with jitter) and say every attempt, since each
    // one names the next; the back-off bounds the lines. Devices carry the latest reason.
    backoff_ = common::reconnect_delay(settings_.reconnect, reconnect_attempt_++, jitter_);
    const auto in = pretty_duration(backoff_);
    std::string why;
    if (!reported_down_ && !lost_why_.empty())
        why = fmt::format("connection to {} lost: {}; cannot reconnect: {}; retrying in {}",
                          address_.endpoint(), lost_why_, err, in);
    else
        why = fmt::format("cannot connect to {}: {}; retrying in {}", address_.endpoint(), err, in);
    if (reported_down_)
        log::warn("rtu[{}]: {}", settings_.name, why);
    else
        log::error("rtu[{}]: {}", settings_.name, why);
    report_down(std::move(why)); // the serial once-per-outage report is skipped then
    return backoff_;
}

void bus_worker::report_down(std::string why) {
    poll_result r;
    r.what = poll_result::kind::port_state;
    r.port_open = false;
    r.error = std::move(why);
    push(std::move(r));
    reported_down_ = true;
}

void bus_worker::run_command(bus_line& line, bus_command& cmd, const std::stop_token& st,
                             poll_result& r) {
    r.command_id = cmd.id;
    r.device = cmd.device;
    const auto& dev = settings_.devices.at(cmd.device);
    const auto timing = timing_for(settings_, dev);
    if (cmd.what == bus_command::kind::read) {
        r.what = poll_result::kind::read;
        r.plan = cmd.plan;
        auto plan = cmd.plan ? *cmd.plan : read_plan{};
        const poll_context ctx{settings_.name, dev.name, dev.unit, timing};
        run_plan(
            [&](const read_request& q, std::vector<std::uint16_t>& regs) {
                return line.read(dev.unit, timing, q, regs);
            },
            ctx, plan, {false, true, steady::now()}, st, r);
        return;
    }
    r.what = poll_result::kind::write;
    for (const auto& w : cmd.writes) {
        if (st.stop_requested()) {
            r.interrupted = true;
            return;
        }
        const auto t = line.write(dev.unit, timing, w.address, w.regs);
        if (t.error == line_error::none) {
            r.written += (r.written.empty() ? "" : ", ") + w.name;
            continue;
        }
        ++r.failed;
        r.last = t;
        r.error = short_failure(t, timing.timeout);
        r.subject = w.name;
        if (t.error == line_error::port) r.port_open = false;
        return;
    }
}

void bus_worker::run(const std::stop_token& st) {
    bus_line line(settings_);
    std::vector<milliseconds> intervals;
    for (const auto& d : settings_.devices)
        intervals.push_back(d.interval);
    poll_schedule sched(intervals, steady::now());
    // When each device's static values are due: at start (now), after it was silent, and
    // every static_interval once read.
    std::vector<steady::time_point> static_due(settings_.devices.size(), steady::now());

    while (!st.stop_requested()) {
        if (!line.is_open() && !open_line(line, st)) continue;

        std::optional<bus_command> cmd;
        {
            std::unique_lock lk(mu_);
            cv_.wait_until(lk, st, sched.next_due(), [&] { return !commands_.empty(); });
            if (st.stop_requested()) break; // queued commands get "stopped" from the loop
            if (!commands_.empty()) {
                cmd = std::move(commands_.front());
                commands_.pop_front();
            }
        }
        poll_result r;
        const auto began = steady::now();
        r.ts_ms = clock_.unix_ms(); // the injected clock: thread-safe (see the header)
        if (cmd) {
            run_command(line, *cmd, st, r);
        } else {
            auto due = sched.next(steady::now());
            if (!due) continue; // woke early
            const auto& dev = settings_.devices[*due];
            r.device = *due;
            const auto timing = timing_for(settings_, dev);
            const poll_context ctx{settings_.name, dev.name, dev.unit, timing};
            auto& plan = plans_[*due];
            const bool was_offline = sched.offline(*due);
            if (was_offline) plan.tick(steady::time_point::max()); // it may be another meter now
            const poll_options opt{true, began >= static_due[*due], began};
            run_plan(
                [&](const read_request& q, std::vector<std::uint16_t>& regs) {
                    return line.read(dev.unit, timing, q, regs);
                },
                ctx, plan, opt, st, r);
            if (r.interrupted) break; // stopping: half a poll is neither data nor a miss
            r.rtt = since(began);
            if (r.static_done)
                static_due[*due] = began + dev.static_interval;
            else if (r.outcome == poll_outcome::no_answer)
                static_due[*due] = began; // read again with its first answer
            sched.finished(*due, r.outcome, r.rtt);
            r.counters = sched.counters(*due);
            r.offline = sched.offline(*due);
            r.misses = sched.misses(*due);
            r.retry_in = std::chrono::duration_cast<milliseconds>(
                std::max(sched.due(*due) - steady::now(), steady::duration::zero()));
        }
        if (r.interrupted) break;
        r.rtt = since(began);
        const bool port_failed = !r.port_open;
        r.port_open = true;
        if (port_failed) lost_why_ = r.last.text;
        push(std::move(r));
        if (port_failed) line.close(); // reopened at once by open_line, which reports it
    }
    // `line` (modbus_close + modbus_free) is destroyed here, on the bus thread.
}

} // namespace mb::drivers::rtu
