#include "daemon/gateway/source_set.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <utility>

namespace mb::daemon {

source_set::source_set(deferred_calls& deferred, maker make, std::function<void()> stopped)
    : deferred_(deferred)
    , make_(std::move(make))
    , stopped_(std::move(stopped)) {}

// Sources destroyed here were not asked to stop, or did not finish (the gateway's destructor).
source_set::~source_set() = default;

void source_set::add(std::vector<source_spec> specs) {
    make_sources(std::move(specs), nullptr, {});
}

void source_set::replace(std::vector<source_spec> specs,
                         const std::vector<std::string>& unchanged) {
    auto old = std::exchange(current_, {});
    make_sources(std::move(specs), &old, unchanged);
    for (const auto& gone : old)
        if (std::none_of(current_.begin(), current_.end(),
                         [&](const slot& s) { return s.key == gone.key; }))
            log::info("reload: {} is no longer configured; stopping it", gone.src->name());
    stop(old); // what was not kept
}

void source_set::make_sources(std::vector<source_spec> specs, std::vector<slot>* old,
                              const std::vector<std::string>& unchanged) {
    for (auto& spec : specs) {
        const auto same_key = old == nullptr
                                  ? std::vector<slot>::iterator{}
                                  : std::find_if(old->begin(), old->end(),
                                                 [&](const slot& s) { return s.key == spec.key; });
        const bool known = old != nullptr && same_key != old->end();
        if (known && same_key->started &&
            std::find(unchanged.begin(), unchanged.end(), spec.key) != unchanged.end()) {
            log::info("reload: {} unchanged; it keeps running", same_key->src->name());
            current_.push_back(std::move(*same_key));
            old->erase(same_key);
            continue;
        }
        auto src = make_(spec);
        if (known)
            log::info("reload: {} changed; restarting it", src->name());
        else if (old != nullptr)
            log::info("reload: {} is new; starting it", src->name());
        // The source it replaces (same name, changed settings) hands over what outlives a
        // restart: a native source's relayed meters keep their names and retained state.
        if (old != nullptr)
            for (auto& previous : *old)
                if (previous.src->name() == src->name()) src->take_over(*previous.src);
        current_.push_back(slot{std::move(spec.key), std::move(src), false});
    }
}

void source_set::start_ready() {
    for (auto& s : current_) {
        if (s.started) continue;
        const bool held = std::any_of(stopping_.begin(), stopping_.end(),
                                      [&](const slot& old) { return old.key == s.key; });
        if (held) continue; // starts when the old one has let go of it
        s.started = true;
        s.src->start();
    }
}

void source_set::stop_all() {
    stop(current_);
}

void source_set::stop(std::vector<slot>& slots) {
    for (auto& s : slots) {
        if (!s.started) continue; // never started: nothing to wait for
        const drivers::source* which = s.src.get();
        stopping_.push_back(std::move(s));
        // `done` may come before stop() returns: the source is destroyed from a fresh
        // iteration, never inside its own call.
        stopping_.back().src->stop(
            [this, which] { deferred_.post([this, which] { source_stopped(which); }); });
    }
    slots.clear();
}

void source_set::source_stopped(const drivers::source* which) {
    std::erase_if(stopping_, [&](const slot& s) { return s.src.get() == which; });
    if (stopped_) stopped_();
}

drivers::source* source_set::owner_of(std::string_view device) const {
    for (const auto& s : current_)
        if (s.src->status(device) != nullptr) return s.src.get();
    return nullptr;
}

std::vector<model::device_info> source_set::devices() const {
    std::vector<model::device_info> out;
    for (const auto& s : current_)
        for (auto& d : s.src->devices())
            out.push_back(std::move(d));
    return out;
}

std::map<std::string, std::string> source_set::problems() const {
    std::map<std::string, std::string> out;
    for (const auto& s : current_)
        if (auto p = s.src->problem(); !p.empty()) out.emplace(s.src->name(), std::move(p));
    return out;
}

source_set::route source_set::route_command(std::string_view device) const {
    for (const auto& s : current_) {
        if (s.src->status(device) == nullptr) continue;
        if (s.started) return {s.src.get(), {}};
        // A reload: the old source of this port still ends its current request.
        return {nullptr, fmt::format("{}: its bus is reopening after a reload; try again", device)};
    }
    return {nullptr, fmt::format("{}: no such device", device)};
}

std::vector<std::string> source_set::end_relays(const std::vector<std::string>& names) {
    std::vector<std::string> ended;
    for (const auto& name : names)
        for (const auto& s : current_)
            if (s.src->end_relay(name)) ended.push_back(name);
    return ended;
}

} // namespace mb::daemon
