#pragma once
// The kinds of source a configuration can ask for, keyed by the config word
// (docs/contributing.md#one-library-per-component, as fluent-bit's plugin table and mbmd's meter
// registry): "rtu" makes one source per [[bus]], "native" one per [[native]].
#include "bridge/model/clock.hpp"
#include "daemon/config/config.hpp"
#include "drivers/source.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <uv.h>
#include <vector>

namespace mb::daemon {

// One source the configuration asks for, not built yet.
struct source_spec {
    std::string kind; // "rtu" | "native"
    // What it owns exclusively ("rtu:/dev/ttyS1"): a reload starts the new source only once
    // the old one with the same key has stopped (a serial port opens once).
    std::string key;
    // Everything the source is made from, as text: a reload keeps a running source whose key
    // and fingerprint are unchanged instead of restarting it. Empty: always restarted.
    std::string fingerprint;
    std::function<std::unique_ptr<drivers::source>(uv_loop_t&, drivers::source::callbacks,
                                                   const model::clock&)>
        make;
};

struct source_kind {
    std::string_view word;
    std::vector<source_spec> (*specs)(const config::config& cfg);
};

// Every kind this build knows.
[[nodiscard]] const std::vector<source_kind>& source_kinds();
// Every source `cfg` asks for, kind by kind.
[[nodiscard]] std::vector<source_spec> sources_of(const config::config& cfg);

} // namespace mb::daemon
