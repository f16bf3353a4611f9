#pragma once
// The kinds of source a configuration can ask for, keyed by the config word
// (docs/contributing.md#one-library-per-component, as fluent-bit's plugin table and mbmd's meter
// registry): "rtu" makes one source per [[bus]], "native" one per [[native]].
#include "common/clock.hpp"
#include "daemon/config/config.hpp"
#include "drivers/source.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <uv.h>
#include <vector>

namespace mb::daemon {

// What a source is made from, compared whole on a reload. Each kind's settings struct has
// operator== = default: a field added to it takes part without anyone listing it here.
class source_settings {
public:
    source_settings() = default;
    virtual ~source_settings() = default;
    source_settings(const source_settings&) = delete;
    source_settings& operator=(const source_settings&) = delete;
    [[nodiscard]] virtual bool same_as(const source_settings& other) const = 0;
};

template <class S> class settings_of final : public source_settings {
public:
    explicit settings_of(S s)
        : value(std::move(s)) {}
    [[nodiscard]] bool same_as(const source_settings& other) const override {
        const auto* same_kind = dynamic_cast<const settings_of*>(&other);
        return same_kind != nullptr && same_kind->value == value;
    }
    const S value;
};

// One source the configuration asks for, not built yet.
struct source_spec {
    std::string kind; // "rtu" | "native"
    // What it owns exclusively ("rtu:/dev/ttyS1"): a reload starts the new source only once
    // the old one with the same key has stopped (a serial port opens once).
    std::string key;
    // Everything the source is made from: a reload keeps a running source whose key and
    // settings are unchanged instead of restarting it.
    std::shared_ptr<const source_settings> settings;
    std::function<std::unique_ptr<drivers::source>(uv_loop_t&, drivers::source::callbacks,
                                                   const common::clock&)>
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
// Where the gateway gets its sources from: sources_of, or a test's own kinds.
using source_catalog = std::function<std::vector<source_spec>(const config::config&)>;

} // namespace mb::daemon
