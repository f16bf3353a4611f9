// bus_worker on a converter's TCP connection, on a real uv loop: refused connects back off
// (first, doubling, capped) and each says when the next one is; a listener that appears is
// connected within the step in effect; a connection the peer closes is reported lost and the
// back-off starts again from the first step.
#include "drivers/modbus_rtu/bus_worker.hpp"
#include "drivers/modbus_rtu/tcp_socket.hpp"
#include "tests/support/loop_test.hpp"

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace mb::drivers::rtu;
using namespace std::chrono_literals;

namespace {

// A listening socket on 127.0.0.1:port (0: any free port).
unique_fd listen_on(std::uint16_t port) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    BOOST_REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(fd.get(), 4) == 0);
    return fd;
}

std::uint16_t port_of(const unique_fd& fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    BOOST_REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
    return ntohs(a.sin_port);
}

bus_settings converter_bus(std::uint16_t port) {
    profile p;
    p.id = "one";
    value_def v;
    v.name = "voltage_l1";
    p.values.push_back(v);
    bus_settings bus;
    bus.name = "gw";
    bus.port = "tcp://127.0.0.1:" + std::to_string(port);
    bus.timeout = 100ms;
    bus.reconnect = {40ms, 150ms};
    device_settings d;
    d.name = "m1";
    d.interval = 50ms;
    d.prof = std::make_shared<const profile>(std::move(p));
    bus.devices.push_back(d);
    return bus;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(bus_worker_over_tcp, mbtest::on_loop)

BOOST_AUTO_TEST_CASE(refused_connects_back_off_and_a_closed_connection_starts_over) {
    std::uint16_t port = 0;
    {
        const auto probe = listen_on(0);
        port = port_of(probe);
    } // nothing listens there now
    const mb::common::system_clock clock;
    std::vector<poll_result> states; // port_state results, in order
    bool ended = false;
    auto worker = std::make_unique<bus_worker>(
        loop, converter_bus(port), clock,
        [&](poll_result&& r) {
            if (r.what == poll_result::kind::port_state) states.push_back(std::move(r));
        },
        [&] { ended = true; });
    const auto refused = "cannot connect to 127.0.0.1:" + std::to_string(port) +
                         ": Connection refused; retrying in ";

    // The shared back-off: the first retry at 40 ms, then each between half its ceiling and
    // the ceiling (doubling from 40 ms, capped at 150 ms), never under 40 ms.
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return states.size() >= 5; }, 5s));
    const std::vector<std::pair<int, int>> bounds{
        {40, 40}, {40, 80}, {75, 150}, {75, 150}, {75, 150}};
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        BOOST_TEST(!states[i].port_open);
        BOOST_REQUIRE(states[i].error.starts_with(refused));
        const auto next = states[i].error.substr(refused.size());
        BOOST_REQUIRE(next.ends_with("ms"));
        const int ms = std::stoi(next);
        BOOST_TEST(ms >= bounds[i].first, states[i].error);
        BOOST_TEST(ms <= bounds[i].second, states[i].error);
    }

    // the converter is back: connected within the step in effect (150 ms)
    auto server = listen_on(port);
    const auto back = std::chrono::steady_clock::now();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return states.back().port_open; }, 2s));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - back);
    BOOST_TEST(took.count() < (150ms + 400ms).count());
    const unique_fd conn(::accept(server.get(), nullptr, nullptr));
    BOOST_REQUIRE(conn.get() >= 0);

    // it goes away again: lost, and the back-off starts over at its first step
    const auto before = states.size();
    server.reset();
    ::shutdown(conn.get(), SHUT_RDWR);
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return states.size() > before; }, 3s));
    const auto& lost = states[before];
    BOOST_TEST(!lost.port_open);
    const auto head = "connection to 127.0.0.1:" + std::to_string(port) + " lost: ";
    BOOST_TEST(lost.error.starts_with(head), lost.error);
    BOOST_TEST(lost.error.ends_with("; cannot reconnect: Connection refused; retrying in 40ms"),
               lost.error);

    worker->request_stop();
    BOOST_REQUIRE(mbtest::run_until(
        loop, [&] { return ended; }, 3s));
    worker.reset();
}

BOOST_AUTO_TEST_SUITE_END()
