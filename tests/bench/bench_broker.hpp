#pragma once
// The benches' broker: the tests' own (tests/support/broker_process.hpp: a private mosquitto on
// a free loopback port that dies with the bench), with no limit of its own on the messages one
// client has in flight and room for a replay's queue.
#include "tests/support/broker_process.hpp"

namespace mb::bench {

class broker final : public mbtest::broker {
public:
    broker()
        : mbtest::broker("allow_anonymous true\nmax_inflight_messages 0\n"
                         "max_queued_messages 100000\n") {}
};

} // namespace mb::bench
