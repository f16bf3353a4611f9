#include "drivers/modbus_rtu/tcp_socket.hpp"

#include "drivers/modbus_rtu/failure_text.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace mb::drivers::rtu {
namespace {

struct addrinfo_free {
    void operator()(addrinfo* ai) const noexcept { freeaddrinfo(ai); }
};

// Empty when connected; else the reason.
std::string connect_one(int fd, const addrinfo& ai, std::chrono::milliseconds timeout) {
    if (::connect(fd, ai.ai_addr, ai.ai_addrlen) == 0) return {};
    if (errno != EINPROGRESS) return std::strerror(errno);
    pollfd p{fd, POLLOUT, 0};
    int rc = 0;
    do {
        rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return "no answer within " + pretty_duration(timeout);
    if (rc < 0) return std::strerror(errno);
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return std::strerror(errno);
    return err == 0 ? std::string{} : std::string(std::strerror(err));
}

} // namespace

tcp_connection tcp_connect(const std::string& host, std::uint16_t port,
                           std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* raw = nullptr;
    const auto service = std::to_string(port);
    if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &raw); rc != 0)
        return {unique_fd{}, fmt::format("cannot resolve {}: {}", host, gai_strerror(rc))};
    const std::unique_ptr<addrinfo, addrinfo_free> list(raw);
    std::string why = "no address";
    for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
        unique_fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                              ai->ai_protocol));
        if (fd.get() < 0) {
            why = std::strerror(errno);
            continue;
        }
        why = connect_one(fd.get(), *ai, timeout);
        if (!why.empty()) continue;
        // Requests are small and each waits for its answer: send them at once.
        const int one = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return {std::move(fd), {}};
    }
    return {unique_fd{}, why};
}

std::string drain_stale(int fd) {
    std::array<char, 256> buf{};
    for (;;) {
        const auto n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) continue;
        if (n == 0) return "closed by the peer";
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
        return std::strerror(errno);
    }
}

} // namespace mb::drivers::rtu
