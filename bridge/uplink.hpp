#pragma once
// The cloud uplink (docs/topics.md): one mqtt_link, the gateway's birth/death, device meta and
// status (retained), readings at QoS 1. Downlink commands are the downlink's (bridge/
// downlink.hpp): the uplink subscribes to them, hands each message to its downlink and
// publishes the results. Loop thread only.
//
// The publish path is the delivery queue's outlet (docs/buffer.md,
// docs/architecture.md#mqtt-on-the-loop): a reading or gap goes in through publish() and gets a
// message id; its PUBACK (or a late refusal), and the link going up and down, go to the
// model::delivery_receipts it reports to (report_to: the forwarder). Readings handed over stay
// with libmosquitto across a reconnect (it resends them on the same instance), so the buffer
// must not publish them again. While the in-flight window (max_inflight) is full, publish()
// answers retry and the forwarder waits for the next PUBACK.
#include "bridge/downlink.hpp"
#include "bridge/link/mqtt_link.hpp"
#include "bridge/payloads.hpp"
#include "bridge/retained_devices.hpp"
#include "bridge/topics.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "model/device_event.hpp"
#include "model/device_info.hpp"
#include "model/device_status.hpp"
#include "model/outlet.hpp"
#include "model/reading.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

namespace mb::bridge {

struct uplink_settings {
    link_settings link; // the will is set by the uplink
    std::string topic_prefix = "meterbridge";
    std::string gateway_id;
    std::string version = "0.1.0";
    bool commands = true;                   // subscribe to {p}/{gw}/+/cmd (the downlink)
    std::size_t max_pending_per_device = 4; // downlink_settings
    std::chrono::milliseconds command_timeout{10'000};
    std::optional<std::string> command_key;        // set: signed commands only (never logged)
    std::chrono::milliseconds stop_timeout{3'000}; // wait for the offline status's PUBACK
    // Retained meta, status and clears handed to the link but not acknowledged, at most.
    std::size_t retained_window = 32;

    // Every field: a reload that changes any of them reconnects (daemon/gateway/gateway.cpp).
    bool operator==(const uplink_settings&) const = default;
};

class uplink final : public model::outlet {
public:
    // The receipts of readings and gaps go to report_to()'s receiver; these tell the owner.
    struct callbacks {
        std::function<void()> on_connect; // after the receiver heard it
        std::function<void()> on_disconnect;
        std::function<void()> on_stopped;
        std::function<model::buffer_stats()> buffer; // for the gateway status; empty: zeros
        // What keeps other parts from working (sources), by part, for the gateway status.
        std::function<std::map<std::string, std::string>()> errors;
        const common::clock* clock = nullptr; // for status timestamps; null: the real one
    };

    uplink(uv_loop_t& loop, uplink_settings settings, callbacks cb, command_handler handler);
    ~uplink() override;
    uplink(const uplink&) = delete;
    uplink& operator=(const uplink&) = delete;

    std::error_code start();

    // Readings and gap messages at QoS 1 in the in-flight window (model::outlet); their
    // PUBACKs go to the receiver of report_to().
    model::publish_attempt publish(const model::reading& r) override;
    model::publish_attempt publish(const model::gap& g) override;
    void report_to(model::delivery_receipts* r) override { receipts_ = r; }
    // Remembered for every reconnect; published (retained) when state or last_error changed,
    // or with status_change::counters also when polls/errors moved (a periodic refresh, so a
    // device that stays online with errors does not show stale counters forever).
    enum class status_change : std::uint8_t { state, counters };
    void publish_status(const model::device_status& s, status_change change = status_change::state);
    // Republishes meta for new or changed devices and clears it for removed ones.
    void set_devices(std::vector<model::device_info> devices);
    // Adds these devices or replaces their info (a relayed meter appeared, its meta changed):
    // the others are left as they are, so the cost is these devices' only.
    void update_devices(std::vector<model::device_info> changed);
    // These devices are gone (a relayed meter forgotten, or its name given to a configured
    // device): their retained meta and status are cleared, before anything a device of the
    // same name publishes later.
    void remove_devices(const std::vector<std::string>& names);
    // A previous instance (before a reload) published these: the next set_devices clears the
    // ones it lacks.
    void published_before(std::vector<std::string> names);
    // An event of one device ({p}/{gw}/{dev}/event, QoS 1, not retained). Not connected: it
    // waits in memory (the latest max_waiting_events of them) for the next connection.
    void publish_event(const model::counter_reset& e);
    static constexpr std::size_t max_waiting_events = 1000;
    // Republishes the gateway status (e.g. after the buffer counters moved).
    void refresh_gateway_status();
    // Publishes {"state":"offline","ts":…} retained, waits for its PUBACK (bounded by
    // stop_timeout), disconnects, then on_stopped. Pending commands get no answer.
    void stop();

    [[nodiscard]] bool connected() const override { return link_.connected(); }
    // The broker granted the cmd subscription on this connection: commands can arrive.
    [[nodiscard]] bool commands_ready() const { return commands_ready_; }
    // Room left in the in-flight window (max_inflight): for tests and the benches.
    [[nodiscard]] std::size_t window_room() const { return link_.window_room(); }
    [[nodiscard]] const topics& topic_scheme() const { return topics_; }
    // Control messages (meta, status, command results) larger than the broker's Maximum
    // Packet Size, never sent: the gateway status's "oversize".
    [[nodiscard]] std::uint64_t oversize() const { return oversize_; }

private:
    static void on_stop_timeout(uv_timer_t* t) noexcept;
    static void on_status_timer(uv_timer_t* t) noexcept;
    mqtt_link::callbacks link_callbacks();
    void handle_connect();
    void handle_ack(int mid, delivery d, bool windowed);
    void handle_message(const incoming_message& m);
    void handle_subscribe(const subscription_answer& a);
    downlink::callbacks downlink_callbacks();
    // True when handed over (false: not connected; retained state is sent on connect).
    model::publish_attempt publish_windowed(const std::string& topic, const std::string& payload);
    bool publish_control(const std::string& topic, const std::string& payload, bool retain,
                         int* mid = nullptr);
    // libmosquitto refused a control message as larger than the broker takes: logged, counted.
    void note_oversize(const std::string& topic, const std::string& payload);
    // Hands the retained messages due to the link, at most retained_window of them
    // unacknowledged: tens of thousands of metas after a reconnect go out as fast as the
    // broker acknowledges them, while readings keep flowing beside them.
    void pump_retained();
    void note_cleared(const std::string& device);
    void log_cleared();
    [[nodiscard]] std::string gateway_status_payload() const;
    [[nodiscard]] std::int64_t now_ms() const;

    uv_loop_t& loop_;
    uplink_settings settings_;
    callbacks cb_;
    model::delivery_receipts* receipts_ = nullptr;
    topics topics_;
    retained_devices devices_;
    // Events published while not connected, oldest first (max_waiting_events).
    std::deque<std::pair<std::string, std::string>> waiting_events_; // topic, payload
    std::uint64_t events_lost_ = 0; // pushed out of waiting_events_ since the last log line
    std::set<int> retained_mids_;   // retained meta/status/clears awaiting their PUBACK
    std::size_t cleared_ = 0;       // devices cleared since the last log line about it
    std::vector<std::string> cleared_names_; // the first few of them, for that line
    log::rate_limiter clears_log_{std::chrono::seconds(10)};
    int stop_mid_ = -1;
    bool stopping_ = false;
    // publish(reading): formatted into reused buffers, the data topic kept for the last
    // device (a source publishes its readings in a row).
    std::string payload_buf_;
    std::string data_topic_device_;
    std::string data_topic_;
    mqtt_link link_;
    downlink downlink_; // after link_: its replies go out through the link
    std::uint64_t oversize_ = 0;
    std::string commands_error_; // the cmd subscription was refused: why
    bool commands_ready_ = false;
    log::rate_limiter refused_log_; // control messages libmosquitto refused, per topic
    std::error_code init_error_;
    uv_handle<uv_timer_t> stop_timer_;
    uv_handle<uv_timer_t> status_timer_; // the gateway status after "oversize" moved
};

} // namespace mb::bridge
