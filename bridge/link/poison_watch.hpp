#pragma once
// Which QoS 1 message an MQTT 3.1.1 broker keeps closing the connection on (mqtt_link.hpp:
// poison messages): when to send one message at a time, when to give the oldest
// unacknowledged one up, and which later messages to refuse at once. Decisions only: the
// link applies them to libmosquitto and logs them. Loop thread only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace mb::bridge {

class poison_watch {
public:
    using time_point = std::chrono::steady_clock::time_point;

    // This many closes in a row, each within `window` of a message going out.
    static constexpr unsigned drops = 3;
    static constexpr std::chrono::seconds window{5};
    // Topics whose given-up size is kept; a given-up message on a further topic is not
    // remembered (its next message goes out, and is given up again if it is as large).
    static constexpr std::size_t max_topics = 1024;

    // One end of an established connection, as the link saw it.
    struct close_report {
        bool broker_closed = false; // closed or reset by the broker (not keepalive, not ours)
        std::uint64_t oldest = 0;   // the publish order of the oldest unacknowledged; 0: none
        time_point oldest_sent{};   // when it went out
        time_point last_sent{};     // when the newest unacknowledged one went out
        time_point up_since{};      // CONNACK (everything held went out again then)
        time_point last_ack{};      // the last PUBACK (careful: the next message went out)
        time_point now{};
    };

    enum class verdict : unsigned char {
        unexplained, // not a close on a message: the count starts over
        go_careful,  // the first one: send one message at a time from now on
        suspect,     // careful: counted against the oldest unacknowledged message
        give_up,     // careful: the oldest unacknowledged message is poison
    };

    verdict closed(const close_report& r);
    [[nodiscard]] bool careful() const { return careful_; }
    // A careful connection up for `window` without a close on a message: time to end it.
    [[nodiscard]] bool settled(time_point up_since, time_point now) const;
    // Back to a full window (the link reconnects for it); the count starts over.
    void end_careful();

    // A message of `size` bytes on `topic` was given up.
    void given_up(const std::string& topic, std::size_t size);
    // True when a message of `size` bytes on `topic` would close the connection again: one as
    // large or smaller was given up on that topic.
    [[nodiscard]] bool refuses(std::string_view topic, std::size_t size) const;
    [[nodiscard]] std::size_t topics() const { return given_up_sizes_.size(); }

private:
    bool careful_ = false;
    std::uint64_t suspect_ = 0; // the publish order of the message suspected; 0: none
    unsigned suspect_drops_ = 0;
    // Per topic, the smallest payload given up: as large or larger is refused (a retained
    // meta republished on every connect would poison each one).
    std::map<std::string, std::size_t, std::less<>> given_up_sizes_;
};

} // namespace mb::bridge
