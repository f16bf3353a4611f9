#include "common/log.hpp"

#include <cstdio>

namespace mb::log {
namespace {

std::atomic<level> current{level::info};

void stderr_sink(level l, std::string_view message) noexcept {
    // One fprintf per line: stdio's lock keeps lines from different threads apart.
    std::fprintf(stderr, "%-5.*s %.*s\n", static_cast<int>(name_of(l).size()), name_of(l).data(),
                 static_cast<int>(message.size()), message.data());
}

std::atomic<sink_fn> installed{&stderr_sink};

} // namespace

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

void set_level(level l) {
    current.store(l, std::memory_order_relaxed);
}

bool enabled(level l) {
    return l <= current.load(std::memory_order_relaxed);
}

void set_sink(sink_fn sink) {
    installed.store(sink != nullptr ? sink : &stderr_sink, std::memory_order_release);
}

void write(level l, std::string_view message) {
    installed.load(std::memory_order_acquire)(l, message);
}

void callback_failed(std::string_view who, std::string_view callback) noexcept {
    try {
        try {
            throw;
        } catch (const std::exception& e) {
            error("{}: {} failed: {}", who, callback, e.what());
        } catch (...) {
            error("{}: {} failed: unknown exception", who, callback);
        }
    } catch (...) { // not even the log line could be written: nothing more to do
    }
}

long rate_limiter::allow(const std::string& key, std::chrono::steady_clock::time_point now) {
    const std::lock_guard lock(mu_);
    auto [it, inserted] = slots_.try_emplace(key);
    slot& s = it->second;
    if (inserted || now - s.since >= period_) {
        const long held = s.suppressed;
        s.since = now;
        s.used = 1;
        s.suppressed = 0;
        return held;
    }
    if (s.used < burst_) {
        ++s.used;
        return 0;
    }
    ++s.suppressed;
    return -1;
}

std::vector<std::pair<std::string, long>>
rate_limiter::overdue(std::chrono::steady_clock::time_point now) {
    const std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, long>> out;
    for (auto& [key, s] : slots_) {
        if (s.suppressed == 0 || now - s.since < period_) continue;
        out.emplace_back(key, s.suppressed);
        // Told now: the next line starts a new period without a count to carry.
        s.suppressed = 0;
        s.since = now;
        s.used = 0;
    }
    return out;
}

} // namespace mb::log
