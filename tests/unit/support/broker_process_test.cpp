// The test broker's promises (tests/support/broker_process.hpp): it dies with the process that
// started it, even one killed with SIGKILL, and a broker that cannot start says so at once.
#include "tests/support/broker_process.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

// Reaps `pid` (a child of this process) within `limit`; its wait status, or nothing.
std::optional<int> reaped(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10)); // waiting on a process
    }
    return status;
}

// A process like a bench: it starts its broker, writes "<broker pid> <broker dir>\n" to `fd`
// and waits to be killed. Never returns.
[[noreturn]] void bench_like(int fd) {
    try {
        const mbtest::broker b;
        const auto line = std::to_string(b.pid()) + " " + b.dir().string() + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(1);
        for (;;)
            ::pause();
    } catch (...) {
        ::_exit(1);
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(a_broker_dies_with_a_bench_killed_from_outside) {
    // This process adopts what its children leave behind, so that the broker, once the bench
    // that started it is gone, is ours to reap: how it ended is then known, not guessed.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        // qemu-user does not emulate it (the arm64 unit run in CI): the host's run checks this.
        BOOST_TEST_MESSAGE("skipped: PR_SET_CHILD_SUBREAPER refused (qemu-user)");
        return;
    }
    std::array<int, 2> fds{};
    BOOST_REQUIRE(::pipe(fds.data()) == 0);
    const pid_t bench = ::fork();
    BOOST_REQUIRE(bench >= 0);
    if (bench == 0) {
        ::close(fds[0]);
        bench_like(fds[1]);
    }
    ::close(fds[1]);
    std::string line;
    std::array<char, 256> buf{};
    ssize_t n = 0;
    while (line.find('\n') == std::string::npos && (n = ::read(fds[0], buf.data(), buf.size())) > 0)
        line.append(buf.data(), static_cast<std::size_t>(n));
    ::close(fds[0]);
    pid_t broker_pid = -1;
    std::string dir;
    std::istringstream(line) >> broker_pid >> dir;
    BOOST_REQUIRE_MESSAGE(broker_pid > 0, "the bench did not start its broker: '" << line << "'");

    BOOST_REQUIRE(::kill(bench, SIGKILL) == 0);
    int bench_status = 0;
    BOOST_REQUIRE(::waitpid(bench, &bench_status, 0) == bench);
    BOOST_TEST(WIFSIGNALED(bench_status));

    const auto status = reaped(broker_pid, std::chrono::seconds(5));
    if (!status) { // still running: end it here, so that the failure leaves nothing behind
        ::kill(broker_pid, SIGKILL);
        reaped(broker_pid, std::chrono::seconds(5));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec); // the bench had no chance to
    BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 0) == 0);
    BOOST_TEST_REQUIRE(status.has_value(), "the broker outlived the bench that started it");
    BOOST_TEST(WIFSIGNALED(*status));
    BOOST_TEST(WTERMSIG(*status) == SIGKILL);
}

BOOST_AUTO_TEST_CASE(a_stopped_broker_is_gone_and_its_directory_with_it) {
    int port = 0;
    std::filesystem::path dir;
    {
        const mbtest::broker b;
        port = b.port();
        dir = b.dir();
        BOOST_TEST(mbtest::port_open(port));
        BOOST_TEST(std::filesystem::exists(dir / "broker.log"));
    }
    BOOST_TEST(!mbtest::port_open(port));
    BOOST_TEST(!std::filesystem::exists(dir));
}

BOOST_AUTO_TEST_CASE(a_broker_that_cannot_start_says_so_at_once) {
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_CHECK_EXCEPTION(mbtest::broker("no_such_option true\n"), std::runtime_error,
                          [](const std::runtime_error& e) {
                              return std::string(e.what()).find("exited at start") !=
                                     std::string::npos;
                          });
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took < std::chrono::seconds(4))); // not the 5 s wait for its port
}
