#pragma once
// The cloud uplink (design.md §5): one mqtt_link, the gateway's birth/death, device meta and
// status (retained), readings at QoS 1. Downlink commands are the downlink's (bridge/
// downlink.hpp): the uplink subscribes to them, hands each message to its downlink and
// publishes the results. Loop thread only.
//
// The publish path is the delivery queue's outlet (design.md §6, style.md §4.1 rule 5): a
// reading or gap goes in through publish() and gets a message id; its PUBACK comes back
// through on_ack(mid). Readings handed over stay with libmosquitto across a
// reconnect (it resends them on the same instance), so the buffer must not publish them
// again; window_room() tells how many more it may hand over now.
#include "bridge/downlink.hpp"
#include "bridge/model/clock.hpp"
#include "bridge/model/device_info.hpp"
#include "bridge/model/device_status.hpp"
#include "bridge/model/log.hpp"
#include "bridge/model/outlet.hpp"
#include "bridge/model/reading.hpp"
#include "bridge/mqtt_link.hpp"
#include "bridge/payloads.hpp"
#include "bridge/topics.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
    std::chrono::milliseconds stop_timeout{3'000}; // wait for the offline status's PUBACK

    // Every field: a reload that changes any of them reconnects (daemon/gateway.cpp).
    bool operator==(const uplink_settings&) const = default;
};

class uplink final : public model::outlet {
public:
    struct callbacks {
        std::function<void(int mid, delivery d)> on_ack; // a reading's PUBACK
        std::function<void()> on_connect;                // the window is open again
        std::function<void()> on_disconnect;
        std::function<void()> on_stopped;
        std::function<model::buffer_stats()> buffer; // for the gateway status; empty: zeros
        const model::clock* clock = nullptr;         // for status timestamps; null: the real one
    };

    uplink(uv_loop_t& loop, uplink_settings settings, callbacks cb, command_handler handler);
    ~uplink() override;
    uplink(const uplink&) = delete;
    uplink& operator=(const uplink&) = delete;

    std::error_code start();

    // Readings and gap messages at QoS 1 in the in-flight window (model::outlet); their
    // PUBACKs come back through callbacks::on_ack.
    model::publish_attempt publish(const model::reading& r) override;
    model::publish_attempt publish(const model::gap& g) override;
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
    // Republishes the gateway status (e.g. after the buffer counters moved).
    void refresh_gateway_status();
    // Publishes {"state":"offline","ts":…} retained, waits for its PUBACK (bounded by
    // stop_timeout), disconnects, then on_stopped. Pending commands get no answer.
    void stop();

    [[nodiscard]] bool connected() const override { return link_.connected(); }
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
    downlink::callbacks downlink_callbacks();
    // True when handed over (false: not connected; retained state is sent on connect).
    model::publish_attempt publish_windowed(const std::string& topic, const std::string& payload);
    bool publish_control(const std::string& topic, const std::string& payload, bool retain,
                         int* mid = nullptr);
    // libmosquitto refused a control message as larger than the broker takes: logged, counted.
    void note_oversize(const std::string& topic, const std::string& payload);
    void flush_clears();
    void publish_meta_if_changed(const model::device_info& d);
    [[nodiscard]] std::string gateway_status_payload() const;
    [[nodiscard]] std::int64_t now_ms() const;
    [[nodiscard]] static bool same_state(const model::device_status& a,
                                         const model::device_status& b);

    uv_loop_t& loop_;
    uplink_settings settings_;
    callbacks cb_;
    topics topics_;
    std::map<std::string, model::device_info> devices_;
    // device -> hash of the meta payload sent: the payloads themselves (a few KiB each) are
    // not worth keeping for thousands of relayed meters.
    std::map<std::string, std::size_t> metas_;
    std::map<std::string, model::device_status> statuses_;  // latest per device
    std::map<std::string, model::device_status> published_; // last published per device
    // Removed devices whose retained meta/status are not cleared yet (the link was down).
    // The daemon hands a new uplink the previous device list first, so a removal made
    // across a reload is cleared too.
    std::set<std::string> to_clear_;
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
    log::rate_limiter refused_log_; // control messages libmosquitto refused, per topic
    std::error_code init_error_;
    uv_handle<uv_timer_t> stop_timer_;
    uv_handle<uv_timer_t> status_timer_; // the gateway status after "oversize" moved
};

} // namespace mb::bridge
