#pragma once
// The subscriptions a link asked for on this connection and what the broker answered
// (docs/connection.md#subscriptions). A SUBSCRIBE counts only once its SUBACK grants it; one
// the broker refuses (reason >= 0x80: not authorized, quota, …) is asked again on a capped,
// jittered back-off for as long as the connection lasts. A new connection starts over: the
// link's users subscribe again from their on_connect. Loop thread only.
#include "common/backoff.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace mb::bridge {

struct subscription_request {
    std::string filter;
    int qos = 1;
    int options = 0; // MQTT 5 subscription options
};

// What one SUBACK said about one filter.
struct subscription_answer {
    std::string filter;
    int reason = 0;        // 0..2: the QoS granted; >= 0x80: refused
    unsigned refusals = 0; // refused answers in a row for this filter, this one included
    std::chrono::milliseconds retry_in{0}; // refused: when it is asked again

    [[nodiscard]] bool granted() const { return reason < 0x80; }
};

class subscription_table {
public:
    explicit subscription_table(common::backoff_policy retry, std::uint64_t seed);

    // A SUBSCRIBE went out with this message id.
    void sent(int mid, subscription_request r);
    // Its SUBACK came; nullopt when the mid is not one of ours.
    std::optional<subscription_answer> answered(int mid, int reason,
                                                std::chrono::steady_clock::time_point now);
    // Refused requests due to be asked again now; they leave the table (sent() again).
    std::vector<subscription_request> due(std::chrono::steady_clock::time_point now);
    // The connection ended: nothing pending or waiting carries over.
    void clear();

    [[nodiscard]] std::size_t pending() const { return pending_.size(); }
    [[nodiscard]] std::size_t waiting() const { return waiting_.size(); }

private:
    struct waiting_request {
        subscription_request request;
        unsigned refusals = 0;
        std::chrono::steady_clock::time_point at{};
    };
    // Refusals in a row so far, by filter: a retry keeps its filter's count.
    std::map<std::string, unsigned, std::less<>> refusals_;
    std::map<int, subscription_request> pending_;
    std::vector<waiting_request> waiting_;
    common::backoff_policy retry_;
    std::mt19937_64 rng_;
};

} // namespace mb::bridge
