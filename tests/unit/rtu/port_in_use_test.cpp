// port_in_use: the holder of a port's flock is named as the kernel lists it (/proc/locks),
// this process included; a port nobody locks gets the usual suspects.
#include "drivers/modbus_rtu/port_in_use.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mb::drivers::rtu;

namespace {

// A temporary file standing in for a tty: flock works the same on it.
struct temp_port {
    std::string path;
    int fd = -1;
    temp_port() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mbport-XXXXXX").string();
        fd = ::mkstemp(tmpl.data());
        path = tmpl;
    }
    ~temp_port() {
        ::close(fd);
        ::unlink(path.c_str());
    }
    temp_port(const temp_port&) = delete;
    temp_port& operator=(const temp_port&) = delete;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(port_in_use_reason)

BOOST_AUTO_TEST_CASE(a_lock_held_by_this_process_says_so) {
    temp_port p;
    const int holder = ::open(p.path.c_str(), O_RDWR | O_CLOEXEC);
    BOOST_REQUIRE(holder >= 0);
    BOOST_REQUIRE(::flock(holder, LOCK_EX | LOCK_NB) == 0);
    const auto text = port_in_use(p.path, p.fd);
    BOOST_TEST(contains(text, "port " + p.path + " is already open in this process"), text);
    ::close(holder);
}

BOOST_AUTO_TEST_CASE(a_lock_held_by_another_process_names_its_pid_and_command) {
    temp_port p;
    int ready[2];
    BOOST_REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        // Lock, tell the parent, then sleep as `sleep` does until killed.
        const int fd = ::open(p.path.c_str(), O_RDWR);
        const char ok = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0 ? 'y' : 'n';
        (void)::write(ready[1], &ok, 1);
        ::pause();
        ::_exit(0);
    }
    char ok = 'n';
    BOOST_REQUIRE(::read(ready[0], &ok, 1) == 1);
    const auto text = port_in_use(p.path, p.fd);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    BOOST_REQUIRE(ok == 'y');
    BOOST_TEST(
        contains(text, "port " + p.path + " is in use by pid " + std::to_string(child) + " ("),
        text);
    BOOST_TEST(contains(text, "unit_rtu"), text); // the child's command line is the test's
    BOOST_TEST(text.ends_with("); stop it first"), text);
}

BOOST_AUTO_TEST_CASE(no_lock_listed_names_the_usual_holders) {
    temp_port p;
    const auto text = port_in_use(p.path, p.fd);
    BOOST_TEST(contains(text, "port " + p.path +
                                  " is locked by another process (a `meterbridge "
                                  "read` or `scan`, a second meterbridge daemon"),
               text);
}

BOOST_AUTO_TEST_SUITE_END()
