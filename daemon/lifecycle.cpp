#include "daemon/lifecycle.hpp"

#include "common/log.hpp"
#include "daemon/config/load_config.hpp"
#include "daemon/config/secret_warnings.hpp"

#include <csignal>
#include <fmt/format.h>
#include <string_view>
#include <variant>

namespace mb::daemon {
namespace {

log::level to_log_level(config::log_level l) {
    switch (l) {
    case config::log_level::error:
        return log::level::error;
    case config::log_level::warn:
        return log::level::warn;
    case config::log_level::info:
        return log::level::info;
    case config::log_level::debug:
        return log::level::debug;
    }
    return log::level::info;
}

std::string_view level_name(config::log_level l) {
    switch (l) {
    case config::log_level::error:
        return "error";
    case config::log_level::warn:
        return "warn";
    case config::log_level::info:
        return "info";
    case config::log_level::debug:
        return "debug";
    }
    return "info";
}

std::string_view signal_name(int signum) {
    switch (signum) {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "signal";
    }
}

// What `check` prints as warnings, in the log: each time a configuration takes effect.
void log_warnings(const config::config& cfg) {
    for (const auto& w : config::secret_warnings(cfg))
        log::warn("config: {}", w.to_string());
    for (const auto& w : cfg.warnings)
        log::warn("config: {}", w.to_string());
}

} // namespace

std::string describe(const config::config& cfg) {
    const std::string natives = count_of(cfg.natives.size(), "native source", "native sources");
    return fmt::format("gateway={}, config={}, log_level={}, {}, {}, {}, uplink={}, buffer={}",
                       cfg.gateway.id, cfg.source.string(), level_name(cfg.gateway.level),
                       count_of(cfg.buses.size(), "bus", "buses"),
                       count_of(cfg.devices.size(), "device", "devices"), natives,
                       redact_url(cfg.uplink.url.text), cfg.buffer.path.string());
}

lifecycle::lifecycle(uv_loop_t& loop, std::filesystem::path config_path, config::config cfg)
    : config_path_(std::move(config_path))
    , notifier_(loop)
    , signals_(loop)
    , gateway_(loop, std::move(cfg)) {}

int lifecycle::start() {
    log::set_level(to_log_level(gateway_.current().gateway.level));
    log::info("meterbridge {} starting: {}", MB_VERSION, describe(gateway_.current()));
    log_warnings(gateway_.current());
    for (const int sig : {SIGTERM, SIGINT}) {
        if (const int rc = signals_.watch(sig, [this](int s) { stop(s); }); rc != 0) return rc;
    }
    if (const int rc = signals_.watch(SIGHUP, [this](int) { reload(); }); rc != 0) return rc;

    gateway_.on_status_change([this] { notifier_.status(gateway_.summary()); });
    gateway_.start();
    if (const auto period = notifier_.start_watchdog(); period.count() > 0)
        log::info("systemd watchdog: feeding every {} ms", period.count());
    notifier_.ready(gateway_.summary());
    log::info("{}", gateway_.summary());
    return 0;
}

void lifecycle::reload() {
    if (stopping_) return;
    notifier_.reloading();
    log::info("SIGHUP: reloading {}", config_path_.string());
    auto loaded = config::load_config(config_path_);
    if (auto* errors = std::get_if<std::vector<config::config_error>>(&loaded)) {
        log::error("reload refused: {} error(s) in {}; still running gateway={} as loaded before",
                   errors->size(), config_path_.string(), gateway_.current().gateway.id);
        for (const auto& e : *errors)
            log::error("{}", e.to_string());
    } else {
        auto& next = std::get<config::config>(loaded);
        if (!gateway_.would_change(next)) {
            // Nothing reopened, restarted or republished: repeated SIGHUPs cost one parse each.
            log::info("reload: no changes");
            notifier_.ready(gateway_.summary());
            return;
        }
        log::set_level(to_log_level(next.gateway.level));
        const auto waiting = gateway_.apply(std::move(next));
        const auto& cfg = gateway_.current();
        log::info("reloaded: {} on {}: {}{}", count_of(cfg.devices.size(), "device", "devices"),
                  count_of(cfg.buses.size(), "bus", "buses"), describe(cfg),
                  waiting.empty() ? "" : "; not applied until a restart: " + waiting);
        log_warnings(cfg);
    }
    // READY=1 also after a refused reload: the old configuration is still serving.
    notifier_.ready(gateway_.summary());
}

void lifecycle::stop(int signum) {
    if (stopping_) {
        log::info("{}: already stopping", signal_name(signum));
        return;
    }
    stopping_ = true;
    log::info("{}: stopping (at most {} ms)", signal_name(signum), gateway::stop_grace.count());
    notifier_.stopping("stopping");
    gateway_.stop([this] {
        close_handles();
        stopped_ = true;
        log::info("stopped");
    });
}

// With every handle closed, uv_run() returns and run_command can close the loop.
void lifecycle::close_handles() {
    notifier_.close();
    signals_.close();
}

} // namespace mb::daemon
