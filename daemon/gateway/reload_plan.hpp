#pragma once
// What a reload does, decided from the running and the new configuration alone (the gateway
// carries it out): which sources keep running, restart, start or stop; whether the uplink
// reconnects; which [buffer] keys wait for a restart. Every component's settings are compared
// whole (operator== = default on each settings struct), so a field added anywhere takes part
// without being listed here.
#include "daemon/config/config.hpp"
#include "daemon/gateway/source_registry.hpp"

#include <string>
#include <vector>

namespace mb::daemon {

struct reload_plan {
    // Source keys ("rtu:/dev/ttyS1", "native:host:port:client"), in configuration order.
    std::vector<std::string> kept;      // the same settings: keeps running, untouched
    std::vector<std::string> restarted; // the same key, other settings
    std::vector<std::string> started;   // a key the running configuration does not have
    std::vector<std::string> stopped;   // a running key the new configuration does not have
    bool uplink = false;                // the uplink's settings changed: it reconnects
    bool log_level = false;             // [gateway] log_level changed
    // [buffer] keys that changed ("path", "max_size", ...): not applied while running.
    std::vector<std::string> buffer;

    // Nothing to reopen, restart or republish: the reload can leave everything alone.
    [[nodiscard]] bool changes_nothing() const;
};

// `catalog` turns a configuration into source specs (the registry's; tests give their own).
[[nodiscard]] reload_plan plan_reload(const config::config& running, const config::config& next,
                                      const source_catalog& catalog = sources_of);

} // namespace mb::daemon
