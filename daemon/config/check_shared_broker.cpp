// A [[native]] on the uplink's broker (docs/security.md). meterbridge cannot see the broker's
// ACLs, but how the native source logs in hints at them: anonymously, or as the uplink does,
// and the meters publishing there most likely may publish anywhere, the uplink's topics
// included, where a command reaches an RS485 meter.
#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace mb::config::detail {

void check_shared_broker(const config& cfg, load_context& ctx) {
    if (ctx.brokers.empty() || ctx.brokers.front().path != "uplink") return;
    const broker_mark& up = ctx.brokers.front();
    for (std::size_t k = 1; k < ctx.brokers.size(); ++k) {
        const broker_mark& native = ctx.brokers[k];
        if (native.port != up.port) continue; // then no name needs resolving
        const auto& reach_up = endpoints_of(ctx, up.host, up.port);
        const auto& reach_native = endpoints_of(ctx, native.host, native.port);
        const auto common = std::ranges::find_first_of(reach_native, reach_up);
        if (common == reach_native.end()) continue;
        const bool anonymous = !native.username && !native.cert_file;
        const bool as_uplink = native.username == up.username && native.password == up.password &&
                               native.cert_file == up.cert_file;
        if (!anonymous && !as_uplink) continue;
        const std::string how = anonymous
                                    ? std::string("without logging in")
                                    : fmt::format("logging in as the uplink does (username \"{}\")",
                                                  native.username.value_or(""));
        ctx.warnings.add(
            native.url_at, native.path + ".url",
            fmt::format("the uplink's broker ({}), {}: unless the broker's ACLs deny it, the "
                        "meters publishing there may also publish under \"{}/\", so command the "
                        "RS485 meters, overwrite retained meta and status, and fake readings "
                        "(give the meters and the gateway users of their own, and deny the meters "
                        "\"{}/#\": docs/security.md)",
                        *common, how, cfg.uplink.topic_prefix, cfg.uplink.topic_prefix));
    }
}

} // namespace mb::config::detail
