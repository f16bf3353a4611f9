#include "drivers/modbus_rtu/bus_worker.hpp"

#include "daemon/log/log.hpp"
#include "drivers/modbus_rtu/bus_line.hpp"

#include <algorithm>

namespace mb::drivers::rtu {
namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

std::int64_t unix_ms() {
    return std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

milliseconds since(steady::time_point t) {
    return std::chrono::duration_cast<milliseconds>(steady::now() - t);
}

// Illegal function or data address: the meter lacks the register, asking again will not help.
bool refused_for_good(const transaction& t) {
    return t.error == line_error::exception && (t.exception == 1 || t.exception == 2);
}

// Runs every request of `plan` against the line. With `split` set, a multi-value request
// answered with an exception is split (and the split kept in the plan) and retried, and a
// single value the meter refuses for good is left out of the next polls, so one
// missing register cannot blank its neighbours. A timeout before anything has answered ends
// the poll: a dead meter costs one timeout, not one per request.
void run_plan(bus_line& line, const bus_settings& bus, const device_settings& dev, read_plan& plan,
              bool split, poll_result& out) {
    if (split) plan.tick(); // refused requests due for a retry come back
    bool any_answer = false;
    for (std::size_t i = 0; i < plan.requests.size();) {
        request_result rr{plan.requests[i], {}, false};
        const auto t = line.read(dev.unit, rr.request, rr.regs);
        if (t.error == line_error::none) {
            rr.ok = true;
            any_answer = true;
            out.requests.push_back(std::move(rr));
            ++i;
            continue;
        }
        if (t.error == line_error::exception && split && plan.split(i)) {
            log::info("rtu[{}] {}(unit {}): exception for registers {}..{} ({}), split", bus.name,
                      dev.name, dev.unit, rr.request.address,
                      rr.request.address + rr.request.count - 1, t.text);
            any_answer = true;
            continue; // retry the first half at the same index
        }
        ++out.failed;
        out.error = t.text;
        if (t.error == line_error::exception) ++out.exceptions;
        if (t.error == line_error::exception || t.error == line_error::bad_frame) any_answer = true;
        if (split && refused_for_good(t)) {
            // One value the meter does not have: asking every poll would fail every poll.
            log::warn("rtu[{}] {}(unit {}): registers {}..{} refused ({}); not read again for {} "
                      "polls",
                      bus.name, dev.name, dev.unit, rr.request.address,
                      rr.request.address + rr.request.count - 1, t.text,
                      read_plan::retry_refused_after);
            out.requests.push_back(std::move(rr));
            plan.refuse(i);
            continue; // requests[i] is now the next one
        }
        out.requests.push_back(std::move(rr));
        if (t.error == line_error::port) {
            out.port_open = false;
            break;
        }
        if (t.error == line_error::timeout && !any_answer) break;
        ++i;
    }
    if (!any_answer)
        out.outcome = poll_outcome::no_answer;
    else if (out.failed > 0)
        out.outcome = poll_outcome::partial;
    else
        out.outcome = poll_outcome::answered;
}

} // namespace

bus_worker::bus_worker(uv_loop_t& loop, bus_settings settings, deliver_fn deliver)
    : settings_(std::move(settings))
    , deliver_(std::move(deliver))
    , async_(make_uv_handle<uv_async_t>()) {
    for (const auto& d : settings_.devices) {
        plan_options opt;
        opt.max_gap = settings_.max_gap;
        opt.only = d.only;
        opt.pt_override = d.pt_ratio.has_value();
        opt.ct_override = d.ct_ratio.has_value();
        plans_.push_back(d.prof ? plan_reads(*d.prof, opt) : read_plan{});
    }
    decode_plans_ = plans_;
    uv_async_init(&loop, async_.get(), &bus_worker::on_async);
    async_->data = this;
    thread_ = std::jthread([this](std::stop_token st) { run(std::move(st)); });
}

bus_worker::~bus_worker() {
    stop();
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

void bus_worker::stop() {
    if (stopped_) return;
    {
        std::lock_guard lk(mu_);
        stopped_ = true;
    }
    thread_.request_stop();
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    drain();
    async_.reset(); // uv_close; freed in its close callback
}

void bus_worker::push(poll_result&& r) {
    {
        std::lock_guard lk(mu_);
        results_.push_back(std::move(r));
    }
    uv_async_send(async_.get());
}

void bus_worker::on_async(uv_async_t* a) noexcept {
    static_cast<bus_worker*>(a->data)->drain();
}

void bus_worker::drain() noexcept {
    // libuv coalesces sends: one wake-up may stand for many results, so take them all.
    std::vector<poll_result> batch;
    {
        std::lock_guard lk(mu_);
        batch.swap(results_);
    }
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

void bus_worker::run(std::stop_token st) {
    bus_line line(settings_);
    std::vector<milliseconds> intervals;
    for (const auto& d : settings_.devices)
        intervals.push_back(d.interval);
    poll_schedule sched(intervals, steady::now());
    bool logged_down = false;
    auto port_state = [&](bool open, const std::string& why) {
        poll_result r;
        r.what = poll_result::kind::port_state;
        r.port_open = open;
        r.error = why;
        push(std::move(r));
    };

    while (!st.stop_requested()) {
        if (!line.is_open()) {
            const auto err = line.open();
            if (!err.empty()) {
                if (!logged_down) {
                    log::error("rtu[{}]: cannot open {}: {}; retrying every {} ms", settings_.name,
                               settings_.port, err, settings_.reopen_every.count());
                    port_state(false, err);
                    logged_down = true;
                }
                // Commands cannot wait for a port that is gone: fail them now.
                std::deque<bus_command> failed;
                {
                    std::unique_lock lk(mu_);
                    failed.swap(commands_);
                    cv_.wait_until(lk, st, steady::now() + settings_.reopen_every,
                                   [&] { return !commands_.empty(); });
                }
                for (auto& c : failed) {
                    poll_result r;
                    r.what = c.what == bus_command::kind::read ? poll_result::kind::read
                                                               : poll_result::kind::write;
                    r.command_id = c.id;
                    r.device = c.device;
                    r.failed = 1;
                    r.error = "port " + settings_.port + " is not open";
                    r.outcome = poll_outcome::no_answer;
                    push(std::move(r));
                }
                continue;
            }
            log::info("rtu[{}]: {} open at {} {}{}{}{}", settings_.name, settings_.port,
                      settings_.baud, settings_.data_bits, settings_.parity, settings_.stop_bits,
                      settings_.rs485 ? " rs485" : "");
            if (logged_down) port_state(true, {});
            logged_down = false;
        }

        std::optional<bus_command> cmd;
        {
            std::unique_lock lk(mu_);
            cv_.wait_until(lk, st, sched.next_due(), [&] { return !commands_.empty(); });
            if (st.stop_requested()) break;
            if (!commands_.empty()) {
                cmd = std::move(commands_.front());
                commands_.pop_front();
            }
        }
        poll_result r;
        const auto began = steady::now();
        r.ts_ms = unix_ms();
        if (cmd) {
            r.command_id = cmd->id;
            r.device = cmd->device;
            const auto& dev = settings_.devices.at(cmd->device);
            if (cmd->what == bus_command::kind::read) {
                r.what = poll_result::kind::read;
                r.plan = cmd->plan;
                auto plan = cmd->plan ? *cmd->plan : read_plan{};
                run_plan(line, settings_, dev, plan, false, r);
            } else {
                r.what = poll_result::kind::write;
                for (const auto& w : cmd->writes) {
                    const auto t = line.write(dev.unit, w.address, w.regs);
                    if (t.error == line_error::none) continue;
                    ++r.failed;
                    r.error = t.text;
                    if (t.error == line_error::port) r.port_open = false;
                    break;
                }
            }
        } else {
            auto due = sched.next(steady::now());
            if (!due) continue; // woke early
            r.device = *due;
            run_plan(line, settings_, settings_.devices[*due], plans_[*due], true, r);
            r.rtt = since(began);
            sched.finished(*due, r.outcome, r.rtt);
            r.counters = sched.counters(*due);
            r.offline = sched.offline(*due);
        }
        r.rtt = since(began);
        const bool port_failed = !r.port_open;
        r.port_open = true;
        push(std::move(r));
        if (port_failed) {
            line.close();
            log::error("rtu[{}]: {} failed; reopening every {} ms", settings_.name, settings_.port,
                       settings_.reopen_every.count());
            port_state(false, "port failed");
            logged_down = true;
        }
    }
    // `line` (modbus_close + modbus_free) is destroyed here, on the bus thread.
}

} // namespace mb::drivers::rtu
