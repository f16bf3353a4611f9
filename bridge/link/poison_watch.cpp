#include "bridge/link/poison_watch.hpp"

#include <algorithm>

namespace mb::bridge {

poison_watch::verdict poison_watch::closed(const close_report& r) {
    // When something unacknowledged last went out: all of it again right after CONNACK;
    // careful, the oldest one after the PUBACK before it.
    const time_point latest = careful_ ? std::max({r.oldest_sent, r.up_since, r.last_ack})
                                       : std::max(r.last_sent, r.up_since);
    if (!r.broker_closed || r.oldest == 0 || r.now - latest > window) {
        suspect_ = 0;
        suspect_drops_ = 0;
        return verdict::unexplained;
    }
    if (!careful_) {
        careful_ = true;
        return verdict::go_careful;
    }
    // One at a time: the one unacknowledged is the one it choked on.
    if (r.oldest != suspect_) {
        suspect_ = r.oldest;
        suspect_drops_ = 0;
    }
    if (++suspect_drops_ < drops - 1) return verdict::suspect;
    suspect_ = 0;
    suspect_drops_ = 0;
    return verdict::give_up;
}

bool poison_watch::settled(time_point up_since, time_point now) const {
    return careful_ && now - up_since >= window;
}

void poison_watch::end_careful() {
    careful_ = false;
    suspect_ = 0;
    suspect_drops_ = 0;
}

void poison_watch::given_up(const std::string& topic, std::size_t size) {
    const auto known = given_up_sizes_.find(topic);
    if (known != given_up_sizes_.end()) {
        known->second = std::min(known->second, size);
    } else if (given_up_sizes_.size() < max_topics) {
        given_up_sizes_.emplace(topic, size);
    }
}

bool poison_watch::refuses(std::string_view topic, std::size_t size) const {
    if (given_up_sizes_.empty()) return false;
    const auto it = given_up_sizes_.find(topic);
    return it != given_up_sizes_.end() && size >= it->second;
}

} // namespace mb::bridge
