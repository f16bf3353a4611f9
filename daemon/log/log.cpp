#include "daemon/log/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace mb::log {
namespace {

std::atomic<level> current{level::info};
std::mutex write_mu;

// journald reads "<N>" (syslog priority) at the start of each line of a stream it owns.
int syslog_priority(level l) {
    switch (l) {
    case level::error:
        return 3;
    case level::warn:
        return 4;
    case level::info:
        return 6;
    case level::debug:
        return 7;
    }
    return 6;
}

std::string_view name_of(level l) {
    switch (l) {
    case level::error:
        return "error";
    case level::warn:
        return "warn";
    case level::info:
        return "info";
    case level::debug:
        return "debug";
    }
    return "info";
}

bool under_journald() {
    static const bool journal = [] {
        const char* stream = std::getenv("JOURNAL_STREAM");
        return stream != nullptr && *stream != '\0';
    }();
    return journal;
}

} // namespace

void set_level(level l) {
    current.store(l, std::memory_order_relaxed);
}

bool enabled(level l) {
    return l <= current.load(std::memory_order_relaxed);
}

void write(level l, std::string_view message) {
    std::string line;
    if (under_journald()) {
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
                           tm.tm_sec, ms, name_of(l), message);
    }
    const std::lock_guard lock(write_mu);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

long rate_limiter::allow(const std::string& key, std::chrono::steady_clock::time_point now) {
    const std::lock_guard lock(mu_);
    auto [it, inserted] = slots_.try_emplace(key);
    slot& s = it->second;
    if (inserted || now - s.last >= period_) {
        const long held = s.suppressed;
        s.last = now;
        s.suppressed = 0;
        return held;
    }
    ++s.suppressed;
    return -1;
}

} // namespace mb::log
