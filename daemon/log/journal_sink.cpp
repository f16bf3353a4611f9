#include "daemon/log/journal_sink.hpp"

#include "common/log.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fmt/format.h>
#include <mutex>
#include <string>

namespace mb::daemon {
namespace {

// journald reads "<N>" (syslog priority) at the start of each line of a stream it owns.
int syslog_priority(log::level l) {
    switch (l) {
    case log::level::error:
        return 3;
    case log::level::warn:
        return 4;
    case log::level::info:
        return 6;
    case log::level::debug:
        return 7;
    }
    return 6;
}

// Read once by install_journal_sink(), before any thread logs.
bool journal = false; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
std::mutex write_mu;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

void journal_sink(log::level l, std::string_view message) noexcept {
    try {
        std::string line;
        if (journal) {
            line = fmt::format("<{}>{}\n", syslog_priority(l), message);
        } else {
            using namespace std::chrono;
            const auto now = system_clock::now();
            const std::time_t secs = system_clock::to_time_t(now);
            const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
            std::tm tm{};
            gmtime_r(&secs, &tm);
            line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {:<5} {}\n",
                               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                               tm.tm_sec, ms, log::name_of(l), message);
        }
        const std::lock_guard lock(write_mu);
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
    } catch (...) { // a log line is never worth a crash
    }
}

} // namespace

void install_journal_sink() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    journal = stream != nullptr && *stream != '\0';
    log::set_sink(&journal_sink);
}

} // namespace mb::daemon
