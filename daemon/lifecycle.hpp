#pragma once
// What `meterbridge run` does between loading the config and uv_loop_close(): starts the
// gateway, tells systemd, and turns SIGTERM/SIGINT into a graceful stop and SIGHUP into a
// reload that keeps the running configuration when the new file is broken.
#include "daemon/config/config.hpp"
#include "daemon/gateway/gateway.hpp"
#include "daemon/signal_watch.hpp"
#include "daemon/systemd_notifier.hpp"

#include <filesystem>
#include <uv.h>

namespace mb::daemon {

class lifecycle {
public:
    lifecycle(uv_loop_t& loop, std::filesystem::path config_path, config::config cfg);

    // Starts everything and sends READY=1. Returns 0, or a UV_E* code if signals cannot be set.
    int start();
    // After uv_run() returns: true once a stop signal was handled to the end.
    [[nodiscard]] bool stopped() const { return stopped_; }

private:
    void reload();
    void stop(int signum);
    void close_handles();

    std::filesystem::path config_path_;
    systemd_notifier notifier_;
    signal_watch signals_;
    gateway gateway_;
    bool stopping_ = false;
    bool stopped_ = false;
};

// The one start-up line of effective settings
// (docs/contributing.md#log-once-with-context-and-count-every-loss); never includes secrets.
[[nodiscard]] std::string describe(const config::config& cfg);

} // namespace mb::daemon
