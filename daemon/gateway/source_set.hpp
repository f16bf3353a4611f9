#pragma once
// The gateway's sources: those of the running configuration, and those of an older one that
// are still stopping after a reload. It is the device directory (a device belongs to the first
// current source that knows its name; one of an older configuration owns nothing) and the
// command router (the running source that owns a device, or why none can take the command
// now), and it keeps a reload's start order: a new source whose key (a serial port, a broker
// session) an old one still holds starts once that one has stopped. Loop thread only.
#include "daemon/gateway/deferred_calls.hpp"
#include "daemon/gateway/source_registry.hpp"
#include "drivers/source.hpp"
#include "model/device_info.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mb::daemon {

class source_set {
public:
    // Makes the source a spec describes (the gateway: with its callbacks and clock).
    using maker = std::function<std::unique_ptr<drivers::source>(const source_spec&)>;

    // `stopped` runs after each source asked to stop has stopped and has been destroyed, from
    // a later loop iteration than its `done` (never inside the source's own call). `deferred`
    // must outlive the set.
    source_set(deferred_calls& deferred, maker make, std::function<void()> stopped);
    ~source_set();
    source_set(const source_set&) = delete;
    source_set& operator=(const source_set&) = delete;
    source_set(source_set&&) = delete;
    source_set& operator=(source_set&&) = delete;

    // The first configuration: one source per spec, none started yet.
    void add(std::vector<source_spec> specs);
    // A reload: the sources `specs` asks for replace the current ones. A running one whose key
    // is in `unchanged` (reload_plan::kept) keeps running, untouched; a new one takes over
    // from the old one of the same name (drivers::source::take_over); every other old one is
    // asked to stop. Nothing new is started: start_ready() does.
    void replace(std::vector<source_spec> specs, const std::vector<std::string>& unchanged);
    // Starts every current source not started yet whose key no stopping source still holds.
    void start_ready();
    // Asks every current source to stop (one never started is dropped at once).
    void stop_all();

    // The current source that owns `device`, or nullptr.
    [[nodiscard]] drivers::source* owner_of(std::string_view device) const;
    // Every current source's devices, source by source.
    [[nodiscard]] std::vector<model::device_info> devices() const;
    // Each current source's problem(), by source name, for the gateway status.
    [[nodiscard]] std::map<std::string, std::string> problems() const;

    // Where a command for `device` goes: the running source that owns it, or (to == nullptr)
    // the answer that says why none takes it (docs/commands.md).
    struct route {
        drivers::source* to = nullptr;
        std::string refusal;
    };
    [[nodiscard]] route route_command(std::string_view device) const;

    // A reload gave configured devices these names: any current source's relayed meter of one
    // of them goes (drivers::source::end_relay). Returns the names that ended a relay.
    std::vector<std::string> end_relays(const std::vector<std::string>& names);

    [[nodiscard]] std::size_t size() const { return current_.size(); }
    // Sources asked to stop that have not stopped yet.
    [[nodiscard]] std::size_t stopping() const { return stopping_.size(); }

private:
    struct slot {
        std::string key;
        std::unique_ptr<drivers::source> src;
        bool started = false;
    };

    // Makes the sources of `specs`; one in `old` whose key is in `unchanged` is taken over
    // running instead. `old` null: the first configuration (nothing to log).
    void make_sources(std::vector<source_spec> specs, std::vector<slot>* old,
                      const std::vector<std::string>& unchanged);
    void stop(std::vector<slot>& slots);
    void source_stopped(const drivers::source* which);

    deferred_calls& deferred_;
    maker make_;
    std::function<void()> stopped_;
    std::vector<slot> current_;  // of the running configuration, in its order
    std::vector<slot> stopping_; // asked to stop, not stopped yet
};

} // namespace mb::daemon
