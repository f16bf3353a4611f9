// bus_line over TCP against a real loopback peer that answers with hand-built frames: Modbus
// TCP (MBAP) and RTU over TCP (CRC), the gateway's "no answer" exceptions, stale bytes dropped
// before a request, a peer that closed while idle, a refused connection, and the timing of a
// request: the request gap of the bus or of the device, and a device's own timeout.
#include "drivers/modbus_rtu/bus_line.hpp"
#include "drivers/modbus_rtu/failure_text.hpp"
#include "drivers/modbus_rtu/tcp_socket.hpp"

#include <arpa/inet.h>
#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <functional>
#include <future>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <vector>

using namespace mb::drivers::rtu;
using namespace std::chrono_literals;
using bytes = std::vector<std::uint8_t>;

namespace {

std::uint16_t crc16(const std::uint8_t* p, std::size_t n) {
    std::uint16_t crc = 0xFFFF;
    for (std::size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b)
            crc = (crc & 1U) != 0 ? static_cast<std::uint16_t>((crc >> 1U) ^ 0xA001U)
                                  : static_cast<std::uint16_t>(crc >> 1U);
    }
    return crc;
}

bytes with_crc(bytes frame) {
    const auto crc = crc16(frame.data(), frame.size());
    frame.push_back(static_cast<std::uint8_t>(crc & 0xFFU));
    frame.push_back(static_cast<std::uint8_t>(crc >> 8U));
    return frame;
}

bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const auto got = ::recv(fd, p, n, 0);
        if (got <= 0) return false;
        p += got;
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

void write_all(int fd, const bytes& b) {
    BOOST_REQUIRE(::send(fd, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size()));
}

// A listening socket on 127.0.0.1 and one peer thread that serves the first connection with
// `serve(fd)`.
class loopback_peer {
public:
    explicit loopback_peer(std::function<void(int)> serve)
        : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        BOOST_REQUIRE(::listen(listener_.get(), 1) == 0);
        socklen_t len = sizeof a;
        BOOST_REQUIRE(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this, serve = std::move(serve)] {
            const unique_fd conn(::accept(listener_.get(), nullptr, nullptr));
            if (conn.get() >= 0) serve(conn.get());
        });
    }
    ~loopback_peer() {
        ::shutdown(listener_.get(), SHUT_RDWR); // ends an accept that nobody connected to
        thread_.join();
    }
    loopback_peer(const loopback_peer&) = delete;
    loopback_peer& operator=(const loopback_peer&) = delete;
    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    unique_fd listener_;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

// The FC03 request of an RTU client (8 bytes), answered with `regs`, or with exception `exc`.
void serve_rtu_read(int fd, const std::vector<std::uint16_t>& regs, int exc = 0) {
    std::array<std::uint8_t, 8> req{};
    BOOST_REQUIRE(read_exact(fd, req.data(), req.size()));
    BOOST_TEST(crc16(req.data(), 6) == (req[6] | (req[7] << 8U)));
    bytes answer{req[0], req[1]};
    if (exc != 0) {
        answer[1] |= 0x80U;
        answer.push_back(static_cast<std::uint8_t>(exc));
    } else {
        answer.push_back(static_cast<std::uint8_t>(regs.size() * 2));
        for (const auto r : regs) {
            answer.push_back(static_cast<std::uint8_t>(r >> 8U));
            answer.push_back(static_cast<std::uint8_t>(r & 0xFFU));
        }
    }
    write_all(fd, with_crc(answer));
}

// The FC03 request of a Modbus TCP client (MBAP + 5 bytes), answered likewise.
std::uint8_t serve_tcp_read(int fd, const std::vector<std::uint16_t>& regs, int exc = 0) {
    std::array<std::uint8_t, 12> req{};
    BOOST_REQUIRE(read_exact(fd, req.data(), req.size()));
    bytes pdu{req[7]};
    if (exc != 0) {
        pdu[0] |= 0x80U;
        pdu.push_back(static_cast<std::uint8_t>(exc));
    } else {
        pdu.push_back(static_cast<std::uint8_t>(regs.size() * 2));
        for (const auto r : regs) {
            pdu.push_back(static_cast<std::uint8_t>(r >> 8U));
            pdu.push_back(static_cast<std::uint8_t>(r & 0xFFU));
        }
    }
    const auto len = pdu.size() + 1; // + unit id
    bytes answer{req[0],
                 req[1],
                 0,
                 0,
                 static_cast<std::uint8_t>(len >> 8U),
                 static_cast<std::uint8_t>(len & 0xFFU),
                 req[6]};
    answer.insert(answer.end(), pdu.begin(), pdu.end());
    write_all(fd, answer);
    return req[6];
}

bus_settings settings_for(const std::string& port) {
    bus_settings s;
    s.name = "t";
    s.port = port;
    s.timeout = 500ms;
    return s;
}

read_request holding(std::uint16_t address, std::uint16_t count) {
    read_request r;
    r.function = function_code::holding;
    r.address = address;
    r.count = count;
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(bus_line_over_tcp)

BOOST_AUTO_TEST_CASE(rtu_frames_with_crc_over_a_tcp_stream) {
    loopback_peer peer([](int fd) {
        serve_rtu_read(fd, {0x1234, 0xBEEF});
        serve_rtu_read(fd, {}, 2);
    });
    const auto s = settings_for("rtu+tcp://127.0.0.1:" + std::to_string(peer.port()));
    bus_line line(s);
    BOOST_TEST((line.address().kind == transport::rtu_over_tcp));
    const auto err = line.open();
    BOOST_REQUIRE_MESSAGE(err.empty(), err);
    std::vector<std::uint16_t> regs;
    const auto t = line.read(3, holding(0x14, 2), regs);
    BOOST_TEST((t.error == line_error::none), t.text);
    BOOST_TEST(regs == (std::vector<std::uint16_t>{0x1234, 0xBEEF}),
               boost::test_tools::per_element());
    const auto refused = line.read(3, holding(0x900, 1), regs);
    BOOST_TEST((refused.error == line_error::exception));
    BOOST_TEST(refused.exception == 2);
}

BOOST_AUTO_TEST_CASE(modbus_tcp_addresses_the_unit_behind_the_gateway) {
    std::promise<std::uint8_t> unit_seen;
    loopback_peer peer([&](int fd) { unit_seen.set_value(serve_tcp_read(fd, {230, 231, 232})); });
    const auto s = settings_for("tcp://127.0.0.1:" + std::to_string(peer.port()));
    bus_line line(s);
    BOOST_REQUIRE(line.open().empty());
    std::vector<std::uint16_t> regs;
    const auto t = line.read(7, holding(0x14, 3), regs);
    BOOST_TEST((t.error == line_error::none), t.text);
    BOOST_TEST(regs == (std::vector<std::uint16_t>{230, 231, 232}),
               boost::test_tools::per_element());
    BOOST_TEST(unit_seen.get_future().get() == 7);
}

BOOST_AUTO_TEST_CASE(a_gateway_that_says_the_meter_did_not_answer_is_no_answer) {
    loopback_peer peer([](int fd) {
        serve_tcp_read(fd, {}, 11);
        serve_tcp_read(fd, {}, 10);
    });
    const auto s = settings_for("tcp://127.0.0.1:" + std::to_string(peer.port()));
    bus_line line(s);
    BOOST_REQUIRE(line.open().empty());
    std::vector<std::uint16_t> regs;
    const auto t = line.read(9, holding(0, 1), regs);
    BOOST_TEST((t.error == line_error::timeout));
    BOOST_TEST(t.exception == 11);
    BOOST_TEST(short_failure(t, 300ms) ==
               "no answer: gateway target device failed to respond (exception 11)");
    const auto path = line.read(9, holding(0, 1), regs);
    BOOST_TEST((path.error == line_error::timeout));
    BOOST_TEST(path.exception == 10);
}

BOOST_AUTO_TEST_CASE(stale_bytes_are_dropped_before_a_request) {
    std::promise<void> junk_sent;
    loopback_peer peer([&](int fd) {
        // a late answer to some earlier request, then the real exchange
        write_all(fd, with_crc({1, 3, 2, 0xDE, 0xAD}));
        junk_sent.set_value();
        serve_rtu_read(fd, {42});
    });
    const auto s = settings_for("rtu+tcp://127.0.0.1:" + std::to_string(peer.port()));
    bus_line line(s);
    BOOST_REQUIRE(line.open().empty());
    junk_sent.get_future().wait(); // on loopback the bytes are queued once send() returned
    std::vector<std::uint16_t> regs;
    const auto t = line.read(1, holding(0, 1), regs);
    BOOST_TEST((t.error == line_error::none), t.text);
    BOOST_TEST(regs == (std::vector<std::uint16_t>{42}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_peer_that_closed_while_idle_is_a_lost_connection) {
    std::promise<void> closed;
    loopback_peer peer([&](int fd) {
        ::shutdown(fd, SHUT_RDWR);
        closed.set_value();
    });
    const auto s = settings_for("rtu+tcp://127.0.0.1:" + std::to_string(peer.port()));
    bus_line line(s);
    BOOST_REQUIRE(line.open().empty());
    closed.get_future().wait();
    std::vector<std::uint16_t> regs;
    const auto t = line.read(1, holding(0, 1), regs);
    BOOST_TEST((t.error == line_error::port));
    BOOST_TEST(t.text == "closed by the peer");
}

BOOST_AUTO_TEST_CASE(a_closed_port_refuses_and_a_bad_port_text_says_why) {
    std::uint16_t port = 0;
    {
        loopback_peer gone([](int) {});
        port = gone.port();
    } // nothing listens there any more
    const auto s = settings_for("tcp://127.0.0.1:" + std::to_string(port));
    bus_line line(s);
    BOOST_TEST(line.open() == "Connection refused");
    BOOST_TEST(!line.is_open());

    const auto bad = settings_for("tcp://127.0.0.1");
    bus_line bad_line(bad);
    BOOST_TEST(bad_line.open().find("no port") != std::string::npos);

    const auto unknown = settings_for("tcp://no-such-host.invalid:502");
    bus_line unknown_line(unknown);
    BOOST_TEST(unknown_line.open().starts_with("cannot resolve no-such-host.invalid: "));
}

// What the peer saw of the silence before each request: from just before its last answer went
// out to the arrival of the next request. The client's gap starts once it has that answer, so
// a client that keeps its gap always shows at least the gap here; stamped after the send, a
// peer thread scheduled late (qemu-user) would stamp after the client had started waiting.
BOOST_AUTO_TEST_CASE(the_request_gap_of_the_bus_or_the_device_is_kept_after_the_last_answer) {
    using clock = std::chrono::steady_clock;
    std::promise<std::vector<clock::duration>> silences;
    loopback_peer peer([&](int fd) {
        const auto next_request = [fd] {
            std::array<std::uint8_t, 1> first{};
            BOOST_REQUIRE(::recv(fd, first.data(), 1, MSG_PEEK) == 1);
        };
        std::vector<clock::duration> seen;
        next_request();
        auto answered = clock::now();
        serve_rtu_read(fd, {1});
        for (int i = 0; i < 3; ++i) {
            next_request();
            seen.push_back(clock::now() - answered);
            answered = clock::now();
            serve_rtu_read(fd, {static_cast<std::uint16_t>(i + 2)});
        }
        silences.set_value(seen);
    });
    auto s = settings_for("rtu+tcp://127.0.0.1:" + std::to_string(peer.port()));
    s.request_gap = 80ms;
    device_settings own;
    own.request_gap = 150ms;
    device_settings none;
    none.request_gap = 0ms;
    bus_line line(s);
    BOOST_REQUIRE(line.open().empty());
    std::vector<std::uint16_t> regs;
    BOOST_TEST((line.read(1, holding(0, 1), regs).error == line_error::none));
    // the bus's gap, the device's own, and a device that wants none
    BOOST_TEST((line.read(1, holding(0, 1), regs).error == line_error::none));
    BOOST_TEST((line.read(2, timing_for(s, own), holding(0, 1), regs).error == line_error::none));
    BOOST_TEST((line.read(3, timing_for(s, none), holding(0, 1), regs).error == line_error::none));
    BOOST_TEST(regs == (std::vector<std::uint16_t>{4}), boost::test_tools::per_element());
    const auto seen = silences.get_future().get();
    BOOST_REQUIRE(seen.size() == 3U);
    BOOST_TEST((seen[0] >= 80ms));
    BOOST_TEST((seen[1] >= 150ms));
}

BOOST_AUTO_TEST_CASE(a_device_timeout_replaces_the_bus_timeout_for_its_requests) {
    std::promise<void> done;
    loopback_peer peer([&](int fd) {
        // a meter that answers after 200 ms, then one that never answers
        std::array<std::uint8_t, 8> req{};
        BOOST_REQUIRE(read_exact(fd, req.data(), 1));
        std::this_thread::sleep_for(200ms);
        BOOST_REQUIRE(read_exact(fd, req.data() + 1, req.size() - 1));
        write_all(fd, with_crc({req[0], 3, 2, 0x01, 0x02}));
        std::array<std::uint8_t, 8> ignored{};
        BOOST_REQUIRE(read_exact(fd, ignored.data(), ignored.size()));
        done.get_future().wait(); // until the client has given up
    });
    auto s = settings_for("rtu+tcp://127.0.0.1:" + std::to_string(peer.port()));
    s.timeout = 50ms;
    device_settings slow;
    slow.timeout = 2s;
    bus_line line(s);
    BOOST_REQUIRE(line.open().empty());
    std::vector<std::uint16_t> regs;
    const auto t = line.read(5, timing_for(s, slow), holding(0, 1), regs);
    BOOST_TEST((t.error == line_error::none), t.text);
    BOOST_TEST(regs == (std::vector<std::uint16_t>{0x0102}), boost::test_tools::per_element());
    // back to the bus's 50 ms for a device without its own
    const auto began = std::chrono::steady_clock::now();
    const auto late = line.read(6, holding(0, 1), regs);
    BOOST_TEST((late.error == line_error::timeout));
    BOOST_TEST((std::chrono::steady_clock::now() - began < 1s));
    done.set_value();
}

BOOST_AUTO_TEST_CASE(timing_for_takes_the_device_setting_else_the_bus_one) {
    bus_settings b;
    b.timeout = 300ms;
    b.request_gap = 40ms;
    device_settings d;
    BOOST_TEST((timing_for(b, d).timeout == 300ms));
    BOOST_TEST((timing_for(b, d).gap == 40ms));
    d.timeout = 1s;
    d.request_gap = 0ms;
    BOOST_TEST((timing_for(b, d).timeout == 1s));
    BOOST_TEST((timing_for(b, d).gap == 0ms));
}

BOOST_AUTO_TEST_SUITE_END()
