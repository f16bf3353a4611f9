#pragma once
// A private mosquitto on a free loopback port for the benches (uplink_bench, buffer_bench): no
// limit of its own on messages in flight from one client, no persistence, its log sent to
// /dev/null; ready once its port accepts a connection.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace mb::bench {

inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!bound) throw std::runtime_error("no free port on 127.0.0.1");
    return ntohs(a.sin_port);
}

inline bool port_open(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

class broker {
public:
    broker()
        : port_(free_port()) {
        std::string tmpl = "/tmp/mb-bench-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        dir_ = tmpl;
        auto conf = (dir_ / "mosquitto.conf").string(); // argv wants char*, not const char*
        std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\n"
                            << "persistence false\nmax_inflight_messages 0\n"
                            << "max_queued_messages 100000\n";
        std::string prog = "mosquitto";
        std::string opt_c = "-c";
        char* argv[] = {prog.data(), opt_c.data(), conf.data(), nullptr};
        posix_spawn_file_actions_t fa; // the broker's own log would garble the figures
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        const int rc = posix_spawn(&pid_, "/usr/sbin/mosquitto", &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw std::runtime_error("cannot start /usr/sbin/mosquitto");
        for (int i = 0; i < 250 && !port_open(port_); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // waiting on a process
        if (!port_open(port_)) throw std::runtime_error("mosquitto did not open its port");
    }
    ~broker() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;
    broker(broker&&) = delete;
    broker& operator=(broker&&) = delete;

    [[nodiscard]] int port() const { return port_; }

private:
    int port_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

} // namespace mb::bench
