#pragma once
// A private mosquitto on a free 127.0.0.1 port, for the component tests (through
// broker_fixture.hpp) and the benches alike: no persistence, its log in broker.log of its own
// temporary directory, ready once its port accepts a connection. Failures throw (a test reports
// the exception; a bench stops with it), so this needs no test framework.
//
// It dies with the process that started it: the child sets PR_SET_PDEATHSIG before exec, so
// a bench or test killed from outside (kill -9, a CI timeout) does not leave it running. The
// signal follows the starting *thread*: start it from one that outlives it (the main thread).
// A credential change clears it, so mosquitto started as root is told to stay root rather
// than become its "mosquitto" user.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <pwd.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

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

// Starts `argv` with stdout and stderr appended to `log`; it gets SIGKILL when the calling
// thread ends. Returns its pid.
inline pid_t spawn_tied(const std::vector<std::string>& argv, const std::string& log) {
    // Everything the child needs is made before fork(): after it, only async-signal-safe
    // calls (the parent may have other threads).
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    cargv.reserve(args.size() + 1);
    for (auto& a : args)
        cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid > 0) return pid;
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ::_exit(126);
    if (::getppid() != parent) ::_exit(126); // the parent died before prctl: it would linger
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) ::_exit(126);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
}

class broker {
public:
    // `extra_conf` replaces "allow_anonymous true" (listener and persistence stay).
    explicit broker(std::string extra_conf = {})
        : port_(free_port())
        , extra_(std::move(extra_conf)) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mb-broker-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
        dir_ = tmpl;
        try {
            start();
        } catch (...) {
            remove_dir();
            throw;
        }
    }
    ~broker() {
        stop();
        remove_dir();
    }
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;
    broker(broker&&) = delete;
    broker& operator=(broker&&) = delete;

    // Starts it (again, after stop()) on the same port; returns once the port accepts.
    void start() {
        const auto conf = dir_ / "mosquitto.conf";
        std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\n"
                            << "persistence false\n"
                            << "user " << user_name() << "\n"
                            << (extra_.empty() ? "allow_anonymous true\n" : extra_);
        const auto log = dir_ / "broker.log";
        pid_ = spawn_tied({"/usr/sbin/mosquitto", "-c", conf.string()}, log.string());
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!port_open(port_)) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("mosquitto exited at start (status " +
                                         std::to_string(status) + "); see " + log.string());
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                stop(SIGKILL);
                throw std::runtime_error("mosquitto did not listen on " + std::to_string(port_) +
                                         " within 5 s; see " + log.string());
            }
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
    // The mosquitto process while it runs, else -1.
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    // Who runs the tests: mosquitto drops root for no one else (the option is ignored unless
    // it runs as root).
    static std::string user_name() {
        const passwd* pw = ::getpwuid(::geteuid());
        return pw != nullptr ? std::string(pw->pw_name) : std::string("root");
    }
    void remove_dir() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    int port_;
    std::string extra_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

} // namespace mbtest
