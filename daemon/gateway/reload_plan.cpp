#include "daemon/gateway/reload_plan.hpp"

#include "daemon/gateway/component_settings.hpp"
#include "daemon/gateway/source_registry.hpp"

#include <algorithm>

namespace mb::daemon {
namespace {

std::vector<std::string> buffer_changes(const config::config& running, const config::config& next) {
    const auto a = buffer_settings(running);
    const auto b = buffer_settings(next);
    std::vector<std::string> keys;
    if (a.path != b.path) keys.emplace_back("path");
    if (a.max_size != b.max_size) keys.emplace_back("max_size");
    if (a.max_age != b.max_age) keys.emplace_back("max_age");
    if (a.flush_interval != b.flush_interval) keys.emplace_back("flush_interval");
    if (a.sync_full != b.sync_full) keys.emplace_back("sync");
    // A field added to buffer_settings without a name here still counts as a change.
    if (keys.empty() && !(a == b)) keys.emplace_back("buffer");
    return keys;
}

} // namespace

bool reload_plan::changes_nothing() const {
    return restarted.empty() && started.empty() && stopped.empty() && !uplink && !log_level &&
           buffer.empty();
}

reload_plan plan_reload(const config::config& running, const config::config& next,
                        const source_catalog& catalog) {
    reload_plan plan;
    const auto before = catalog(running);
    const auto after = catalog(next);
    for (const auto& spec : after) {
        const auto old = std::find_if(before.begin(), before.end(),
                                      [&](const source_spec& s) { return s.key == spec.key; });
        if (old == before.end())
            plan.started.push_back(spec.key);
        else if (old->settings->same_as(*spec.settings))
            plan.kept.push_back(spec.key);
        else
            plan.restarted.push_back(spec.key);
    }
    for (const auto& spec : before)
        if (std::none_of(after.begin(), after.end(),
                         [&](const source_spec& s) { return s.key == spec.key; }))
            plan.stopped.push_back(spec.key);
    plan.uplink = !(uplink_settings(running) == uplink_settings(next));
    plan.log_level = running.gateway.level != next.gateway.level;
    plan.buffer = buffer_changes(running, next);
    return plan;
}

} // namespace mb::daemon
