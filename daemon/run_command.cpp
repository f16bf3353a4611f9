#include "common/log.hpp"
#include "daemon/commands.hpp"
#include "daemon/config/load_config.hpp"
#include "daemon/lifecycle.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <uv.h>
#include <variant>

namespace mb::daemon {
namespace {

constexpr const char* run_usage = "usage: meterbridge run [-c FILE]\n";

// Returns false (after printing why) when the arguments are not "[-c FILE]".
bool parse_run_args(arguments args, std::filesystem::path& config_path) {
    config_path = std::string(default_config);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if ((a == "-c" || a == "--config") && i + 1 < args.size()) {
            config_path = args[++i];
        } else if (a.starts_with("--config=")) {
            config_path = std::string(a.substr(9));
        } else {
            std::fprintf(stderr, "meterbridge run: unexpected argument '%s'\n%s", args[i],
                         run_usage);
            return false;
        }
    }
    return true;
}

struct loop_closer {
    void operator()(uv_loop_t* loop) const noexcept {
        // Runs only on early-error paths, after handles were closed: let their close callbacks
        // run, then free the loop even if something is still open.
        uv_run(loop, UV_RUN_NOWAIT);
        uv_loop_close(loop);
        delete loop;
    }
};

} // namespace

int run_command(arguments args) {
    std::filesystem::path config_path;
    if (!parse_run_args(args, config_path)) return 2;

    auto loaded = config::load_config(config_path);
    if (auto* errors = std::get_if<std::vector<config::config_error>>(&loaded)) {
        for (const auto& e : *errors)
            log::error("{}", e.to_string());
        log::error("{}: {} error(s); not starting", config_path.string(), errors->size());
        return 1;
    }
    for (const auto& w : std::get<config::config>(loaded).warnings)
        log::warn("warning: {}", w.to_string());

    // libmosquitto resolves a TLS broker's name with a blocking getaddrinfo() on the loop:
    // bound that stall (docs/architecture.md#mqtt-on-the-loop) unless the operator set resolver
    // options.
    setenv("RES_OPTIONS", "timeout:1 attempts:2", 0);

    // A broken uplink socket must come back as EPIPE on the write, not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);

    std::unique_ptr<uv_loop_t, loop_closer> loop(new uv_loop_t{});
    if (const int rc = uv_loop_init(loop.get()); rc != 0) {
        log::error("uv_loop_init: {}", uv_strerror(rc));
        delete loop.release();
        return 1;
    }
    bool stopped = false;
    {
        lifecycle daemon(*loop, config_path, std::move(std::get<config::config>(loaded)));
        if (const int rc = daemon.start(); rc != 0) {
            log::error("cannot start: {}", uv_strerror(rc));
            return 1; // ~lifecycle closes the handles, loop_closer drains and frees the loop
        }
        uv_run(loop.get(), UV_RUN_DEFAULT);
        stopped = daemon.stopped();
    }
    uv_run(loop.get(), UV_RUN_DEFAULT); // close callbacks of anything destroyed just now
    const int rc = uv_loop_close(loop.get());
    delete loop.release();
    if (rc != 0) {
        log::error("uv_loop_close: {} (a handle was left open)", uv_strerror(rc));
        return 1;
    }
    return stopped ? 0 : 1;
}

} // namespace mb::daemon
