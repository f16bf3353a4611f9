#pragma once
// An independent client for component tests: its own mqtt_link on the same loop, keeping
// every message it receives under `filter`, and publishing as a dashboard would. `up` once
// the broker granted the subscription: from then on whatever is published there arrives.
#include "bridge/link/mqtt_link.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mbtest {

struct mqtt_observer {
    std::vector<std::pair<std::string, std::string>> got; // topic, payload
    bool up = false;
    bool stopped = false; // after link->stop(): disconnected
    std::unique_ptr<mb::bridge::mqtt_link> link;

    mqtt_observer(uv_loop_t& loop, int port, std::string filter) {
        mb::bridge::link_settings s;
        s.host = "127.0.0.1";
        s.port = port;
        s.client_id = s.name = "observer";
        mb::bridge::mqtt_link::callbacks cb;
        cb.on_connect = [this, filter = std::move(filter)] {
            BOOST_TEST(!link->subscribe(filter, 1));
        };
        cb.on_subscribe = [this](const mb::bridge::subscription_answer& a) {
            BOOST_TEST(a.granted(), a.filter);
            up = up || a.granted();
        };
        cb.on_stopped = [this] { stopped = true; };
        cb.on_message = [this](const mb::bridge::incoming_message& m) {
            got.emplace_back(std::string(m.topic), std::string(m.payload));
        };
        link = std::make_unique<mb::bridge::mqtt_link>(loop, s, cb);
        BOOST_REQUIRE(!link->start());
    }
    [[nodiscard]] std::optional<std::string> last(const std::string& topic) const {
        std::optional<std::string> p;
        for (const auto& [t, v] : got)
            if (t == topic) p = v;
        return p;
    }
    [[nodiscard]] std::size_t count(const std::string& topic) const {
        return static_cast<std::size_t>(
            std::ranges::count_if(got, [&](const auto& m) { return m.first == topic; }));
    }
    [[nodiscard]] bool has(const std::string& topic, const std::string& payload) const {
        return std::ranges::any_of(
            got, [&](const auto& m) { return m.first == topic && m.second == payload; });
    }
    // At QoS 1, outside the link's in-flight window.
    void publish(const std::string& topic, const std::string& payload, bool retain = false) const {
        mb::bridge::publish_options o;
        o.windowed = false;
        o.retain = retain;
        BOOST_REQUIRE(!link->publish(topic, payload, o));
    }
};

} // namespace mbtest
