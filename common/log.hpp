#pragma once
// The logging interface every component uses: levels, a rate limiter, and a sink hook. The
// daemon installs its journald/stderr writer as the sink at start (daemon/log/); until then,
// and in tests, lines go to stderr as "level message". Safe from any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mb::log {

enum class level : std::uint8_t { error, warn, info, debug };

void set_level(level l);
[[nodiscard]] bool enabled(level l);
// Where formatted lines go. Called from any thread; it must be thread-safe itself.
using sink_fn = void (*)(level l, std::string_view message) noexcept;
// nullptr restores the default stderr writer.
void set_sink(sink_fn sink);
void write(level l, std::string_view message);
[[nodiscard]] std::string_view name_of(level l);

template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::error)) write(level::error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::warn)) write(level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::info)) write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::debug)) write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}

// Logs the exception being handled at the edge of a C callback ("uplink: on_grace failed:
// …"). Call it only inside a catch block; it never throws (the noexcept trampolines catch
// everything and end in it, so nothing unwinds into libuv, libmosquitto or SQLite).
void callback_failed(std::string_view who, std::string_view callback) noexcept;

// Repeated errors are rate-limited per key
// (docs/contributing.md#log-once-with-context-and-count-every-loss): allow() is true for the first
// `burst` occurrences of a period and then held back until the period ends; the next allowed
// line learns how many were held back, so that it can say "(N more since)". Keys must come from
// a bounded set (a reason, a device of the config): a key per serial a meter sends would let a
// flood of made-up serials grow the table, and the log, without end.
class rate_limiter {
public:
    explicit rate_limiter(std::chrono::milliseconds period = std::chrono::seconds(30),
                          unsigned burst = 1)
        : period_(period)
        , burst_(burst == 0 ? 1 : burst) {}
    // Returns the number suppressed since the last allowed line, or -1 to suppress this one.
    long allow(const std::string& key,
               std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    // The keys whose period ended with lines held back, each with how many: a flood that
    // stopped is still told in numbers (once; the count starts again from 0).
    std::vector<std::pair<std::string, long>>
    overdue(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

private:
    struct slot {
        std::chrono::steady_clock::time_point since; // the period's start
        unsigned used = 0;                           // lines allowed in this period
        long suppressed = 0;
    };

    std::chrono::milliseconds period_;
    unsigned burst_;
    std::mutex mu_;
    std::unordered_map<std::string, slot> slots_;
};

// " (N more since)" after a line a rate_limiter let through with N suppressed before it; empty
// when none were.
[[nodiscard]] inline std::string suppressed_note(long suppressed) {
    return suppressed > 0 ? fmt::format(" ({} more since)", suppressed) : std::string();
}

} // namespace mb::log
