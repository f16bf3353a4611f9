#pragma once
// The downlink (docs/commands.md): what arrives on {p}/{gw}/{dev}/cmd becomes a command for
// the device's source, and every command gets one answer on {p}/{gw}/{dev}/cmd/result.
//
// A message is parsed and checked against what the device allows (bridge/command: nothing
// unlisted ever reaches a meter), held to a per-device limit of pending commands, handed to
// the command_handler, and timed out when the handler does not answer in time. With a
// command key, a message must first pass the signature check (docs/security.md). The uplink
// owns one downlink: it forwards the messages of its cmd subscription here and publishes the
// result payloads this produces. Loop thread only.
#include "bridge/command.hpp"
#include "bridge/command_verifier.hpp"
#include "bridge/link/mqtt_link.hpp"
#include "bridge/topics.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/uv_handle.hpp"
#include "model/command_outcome.hpp"
#include "model/device_info.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace mb::bridge {

// Supplied by the daemon: carries accepted commands to the device's source. `done` must be
// called once, on the loop thread; a call after the timeout (or after the downlink is gone)
// is ignored.
struct command_handler {
    using done_fn = std::function<void(model::command_outcome)>;
    std::function<void(const std::string& device, const model::named_values& values, done_fn done)>
        write;
    std::function<void(const std::string& device, const std::vector<std::string>& names,
                       done_fn done)>
        read;
};

struct downlink_settings {
    std::size_t max_pending_per_device = 4;
    std::chrono::milliseconds command_timeout{10'000};
    // Set: signed commands only (bridge/command_verifier.hpp), under this key (never logged).
    std::optional<std::string> command_key;
    const common::clock* clock = nullptr; // for the signatures' ts; null: the real one
};

class downlink {
public:
    struct callbacks {
        // Publishes one result: `topic` is {p}/{gw}/{dev}/cmd/result, QoS 1, not retained.
        std::function<void(const std::string& topic, const std::string& payload)> reply;
        // What a device allows (units, writable ranges); nullptr: the gateway has no such device.
        std::function<const model::device_info*(const std::string& device)> device;
    };

    downlink(uv_loop_t& loop, topics scheme, downlink_settings settings, command_handler handler,
             callbacks cb);
    ~downlink();
    downlink(const downlink&) = delete;
    downlink& operator=(const downlink&) = delete;

    // Arms the timeout sweep. Fails only when libuv refused the timer.
    std::error_code start();
    // A message from the cmd subscription; a topic that is not a cmd topic is ignored.
    void handle(const incoming_message& m);
    // Takes no more commands; pending ones are forgotten (their late answers are ignored).
    void stop();

    [[nodiscard]] std::size_t pending() const { return pending_.size(); }

private:
    struct pending_command {
        std::string device;
        std::string id_json;
        std::uint64_t deadline_ms = 0; // uv_now
    };

    static void on_sweep(uv_timer_t* t) noexcept;
    void sweep();
    void dispatch(const std::string& device, command c);
    void finish_command(std::uint64_t token, const model::command_outcome& outcome);
    void reply(const std::string& device, const std::string& payload);
    void refuse_unverified(const std::string& device, const incoming_message& m,
                           const std::string& why);
    [[nodiscard]] std::size_t pending_for(const std::string& device) const;

    uv_loop_t& loop_;
    topics topics_;
    downlink_settings settings_;
    command_handler handler_;
    callbacks cb_;
    std::map<std::uint64_t, pending_command> pending_; // by token
    std::uint64_t next_token_ = 1;
    log::rate_limiter retained_log_;           // retained commands ignored, per device
    log::rate_limiter unverified_log_;         // unsigned or badly signed commands, per device
    std::optional<command_verifier> verifier_; // set: signed commands only
    bool stopped_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); // for late `done` calls
    std::error_code init_error_;
    uv_handle<uv_timer_t> sweep_;
};

} // namespace mb::bridge
