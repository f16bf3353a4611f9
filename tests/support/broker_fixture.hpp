#pragma once
// A private mosquitto on a free 127.0.0.1 port for component tests on a real uv loop.
#include "tests/support/loop_test.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <netinet/in.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <uv.h>

namespace mbtest {

inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    BOOST_REQUIRE_MESSAGE(bound, "no free port on 127.0.0.1");
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
    explicit broker(std::string extra_conf = {})
        : port_(free_port())
        , extra_(std::move(extra_conf)) {
        char tmpl[] = "/tmp/mb-broker-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        start();
    }
    ~broker() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    void start() {
        const auto conf = dir_ / "mosquitto.conf";
        std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\n"
                            << "persistence false\n"
                            << (extra_.empty() ? "allow_anonymous true\n" : extra_);
        std::string conf_s = conf.string(); // argv wants char*, not const char*
        const std::string log_s = (dir_ / "broker.log").string();
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log_s.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        std::string prog = "mosquitto";
        std::string opt_c = "-c";
        char* argv[] = {prog.data(), opt_c.data(), conf_s.data(), nullptr};
        const int rc = posix_spawn(&pid_, "/usr/sbin/mosquitto", &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        BOOST_REQUIRE_EQUAL(rc, 0);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!port_open(port_)) {
            BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                                  "mosquitto did not listen on " << port_);
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // waiting on a process
        }
    }

    void stop(int sig = SIGTERM) {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

private:
    int port_;
    std::string extra_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

} // namespace mbtest
