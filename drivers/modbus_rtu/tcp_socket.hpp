#pragma once
// The TCP side of an Ethernet-RS485 converter: an owned socket, a connect with a deadline
// (the bus thread must not hang on a black-holed address) and the drain of stale bytes that
// modbus_flush cannot do on a socket in the RTU backend (it calls tcflush).
#include <chrono>
#include <cstdint>
#include <string>
#include <unistd.h>

namespace mb::drivers::rtu {

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd)
        : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(unique_fd&& o) noexcept
        : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.release();
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;

    [[nodiscard]] int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

struct tcp_connection {
    unique_fd fd;      // connected, non-blocking, TCP_NODELAY; invalid when error is set
    std::string error; // "Connection refused", "cannot resolve gw.local: ...", ...
};

// Resolves `host` (a name or an address) and connects to the first address that accepts
// within `timeout` each.
tcp_connection tcp_connect(const std::string& host, std::uint16_t port,
                           std::chrono::milliseconds timeout);

// Reads and drops whatever the peer sent and nobody asked for (a late answer to a request
// that timed out). Empty when the socket is still usable, else why not ("closed by the
// peer", "Connection reset by peer").
std::string drain_stale(int fd);

} // namespace mb::drivers::rtu
