#include "bridge/downlink.hpp"

#include "bridge/link/errors.hpp"
#include "bridge/payloads.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <utility>

namespace mb::bridge {

downlink::downlink(uv_loop_t& loop, topics scheme, downlink_settings settings,
                   command_handler handler, callbacks cb)
    : loop_(loop)
    , topics_(std::move(scheme))
    , settings_(std::move(settings))
    , handler_(std::move(handler))
    , cb_(std::move(cb))
    , sweep_(make_uv_timer(loop_, this, init_error_)) {
    if (settings_.command_key) {
        verifier_.emplace(std::move(*settings_.command_key),
                          settings_.clock != nullptr ? *settings_.clock : common::real_clock());
        settings_.command_key.reset();
    }
}

downlink::~downlink() {
    *alive_ = false;
}

std::error_code downlink::start() {
    if (init_error_) return init_error_;
    if (stopped_) return make_error_code(link_errc::stopping);
    const auto period = static_cast<std::uint64_t>(
        std::clamp<std::int64_t>(settings_.command_timeout.count() / 4, 50, 1000));
    uv_timer_start(sweep_.get(), &on_sweep, period, period);
    if (verifier_)
        log::info("downlink: signed commands only (HMAC-SHA256, ts within {} s of this clock)",
                  command_verifier::window.count() / 1000);
    return {};
}

void downlink::stop() {
    stopped_ = true;
    pending_.clear(); // late answers find no token and are ignored
    if (sweep_) uv_timer_stop(sweep_.get());
}

void downlink::reply(const std::string& device, const std::string& payload) {
    if (cb_.reply) cb_.reply(topics_.cmd_result(device), payload);
}

void downlink::refuse_unverified(const std::string& device, const incoming_message& m,
                                 const std::string& why) {
    // Whoever cannot sign may still publish here: rate-limited, so that they cannot fill the
    // journal either.
    if (const long held = unverified_log_.allow(device); held >= 0)
        log::warn("downlink: command for {} refused: {}{}", device, why,
                  log::suppressed_note(held));
    reply(device, cmd_error_payload(parse_command(m.payload, {}, signing::on).id_json, why));
}

std::size_t downlink::pending_for(const std::string& device) const {
    return static_cast<std::size_t>(std::ranges::count_if(
        pending_, [&](const auto& entry) { return entry.second.device == device; }));
}

void downlink::handle(const incoming_message& m) {
    if (stopped_) return;
    const auto device = topics_.device_of_cmd(m.topic);
    if (!device) return; // not a command topic of ours
    if (m.payload.empty()) {
        // An empty payload is how MQTT deletes a retained message: someone cleared a retained
        // command. Not a command, so not answered.
        log::debug("downlink: empty message on {} ignored (a retained command cleared)", m.topic);
        return;
    }
    if (m.retain) {
        // Only a broker that ignores retain handling sends these: a stored command, not a
        // live one. Not answered either (it would repeat on every connect).
        const long held = retained_log_.allow(*device);
        if (held >= 0) {
            log::warn("downlink: retained command for {} ignored: publish commands without the "
                      "retain flag{}",
                      *device, held > 0 ? fmt::format(" ({} more ignored)", held) : "");
        }
        return;
    }
    std::string_view payload = m.payload;
    std::string verified;
    if (verifier_) {
        auto v = verifier_->check(m.topic, m.payload);
        if (!v.error.empty()) return refuse_unverified(*device, m, v.error);
        verified = std::move(v.body);
        payload = verified;
    }
    const signing mode = verifier_ ? signing::on : signing::off;
    const model::device_info* info = cb_.device ? cb_.device(*device) : nullptr;
    if (info == nullptr) {
        const auto parsed = parse_command(payload, model::device_info{}, mode);
        reply(*device, cmd_error_payload(parsed.id_json, *device + ": unknown device"));
        return;
    }
    auto parsed = parse_command(payload, *info, mode);
    if (!parsed.cmd) {
        log::warn("downlink: command for {} refused: {}", *device, parsed.error);
        reply(*device, cmd_error_payload(parsed.id_json, parsed.error));
        return;
    }
    if (const std::size_t pending = pending_for(*device);
        pending >= settings_.max_pending_per_device) {
        reply(*device,
              cmd_error_payload(parsed.id_json,
                                fmt::format("{}: busy, {} commands pending", *device, pending)));
        return;
    }
    dispatch(*device, std::move(*parsed.cmd));
}

void downlink::dispatch(const std::string& device, command c) {
    const bool is_set = c.what == command::kind::set;
    if ((is_set && !handler_.write) || (!is_set && !handler_.read)) {
        reply(device, cmd_error_payload(c.id_json, is_set ? "set: not supported here"
                                                          : "read: not supported here"));
        return;
    }
    const std::uint64_t token = next_token_++;
    pending_[token] = pending_command{
        device, c.id_json,
        uv_now(&loop_) + static_cast<std::uint64_t>(settings_.command_timeout.count())};
    log::info("downlink: command {} for {}: {}", c.id_json, device, is_set ? "set" : "read");
    const std::weak_ptr<bool> alive = alive_;
    command_handler::done_fn done = [this, alive, token](const model::command_outcome& o) {
        if (alive.expired() || !*alive.lock()) return;
        finish_command(token, o);
    };
    if (is_set) {
        handler_.write(device, c.set, std::move(done));
    } else {
        handler_.read(device, c.read, std::move(done));
    }
}

void downlink::finish_command(std::uint64_t token, const model::command_outcome& outcome) {
    const auto it = pending_.find(token);
    if (it == pending_.end()) return; // timed out already, or stopped
    const pending_command p = std::move(it->second);
    pending_.erase(it);
    if (!outcome.ok) {
        reply(p.device, cmd_error_payload(p.id_json, outcome.error));
    } else if (!outcome.values.empty()) {
        reply(p.device, cmd_values_payload(p.id_json, outcome.values));
    } else {
        reply(p.device, cmd_ok_payload(p.id_json));
    }
}

void downlink::sweep() {
    const std::uint64_t now = uv_now(&loop_);
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline_ms > now) {
            ++it;
            continue;
        }
        const pending_command p = std::move(it->second);
        it = pending_.erase(it);
        log::warn("downlink: command {} for {} timed out", p.id_json, p.device);
        reply(p.device,
              cmd_error_payload(p.id_json, fmt::format("timeout after {} ms",
                                                       settings_.command_timeout.count())));
    }
}

void downlink::on_sweep(uv_timer_t* t) noexcept {
    try {
        static_cast<downlink*>(t->data)->sweep();
    } catch (...) {
        log::callback_failed("downlink", "on_sweep");
    }
}

} // namespace mb::bridge
