#include "daemon/config/load_config.hpp"

#include "daemon/config/broker_url.hpp"
#include "daemon/config/config_sections.hpp"
#include "daemon/config/load_profile.hpp"
#include "daemon/config/toml_file.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <fnmatch.h>
#include <set>
#include <tuple>

namespace mb::config {
namespace detail {
namespace {

// A file the daemon will open later: check now that it can be read.
std::optional<std::filesystem::path> readable_file(toml_reader& r, std::string_view k,
                                                   load_context& ctx, std::string* content) {
    const auto text = r.string(k);
    if (!text) return std::nullopt;
    const auto path = resolve(ctx, *text);
    std::string why;
    auto data = read_text_file(path, why);
    if (!data) {
        r.errors().add(*r.table().get(k), r.key(k),
                       fmt::format("cannot read \"{}\": {} (a readable file)", path.string(), why));
        return std::nullopt;
    }
    if (content != nullptr) *content = std::move(*data);
    return path;
}

bool valid_topic_prefix(std::string_view s) {
    return !s.empty() && !s.starts_with('/') && !s.ends_with('/') &&
           s.find_first_of("+#") == std::string_view::npos &&
           s.find('\0') == std::string_view::npos && s.find("//") == std::string_view::npos;
}

} // namespace

std::filesystem::path resolve(const load_context& ctx, const std::string& p) {
    const std::filesystem::path path(p);
    return path.is_relative() ? ctx.base / path : path;
}

void read_gateway(toml_reader& root, config& cfg, load_context& ctx) {
    const auto* table = root.sub_table("gateway");
    if (table == nullptr) {
        if (root.table().get("gateway") == nullptr)
            ctx.errors.add(root.table().source(), "gateway.id",
                           fmt::format("required key is missing ([gateway] with id = a name: "
                                       "{})",
                                       name_syntax));
        return;
    }
    toml_reader r(*table, "gateway", ctx.errors);
    cfg.gateway.id = r.name("id", true).value_or("");
    cfg.gateway.level = r.choice<log_level>("log_level", {{"error", log_level::error},
                                                          {"warn", log_level::warn},
                                                          {"info", log_level::info},
                                                          {"debug", log_level::debug}})
                            .value_or(cfg.gateway.level);
    if (const auto* dirs = r.array("profile_dirs")) {
        cfg.gateway.profile_dirs.clear();
        for (std::size_t i = 0; i < dirs->size(); ++i) {
            const auto& node = *dirs->get(i);
            const auto* s = node.as_string();
            if (s == nullptr || s->get().empty())
                ctx.errors.add(node, fmt::format("gateway.profile_dirs[{}]", i),
                               fmt::format("{} where a directory path is expected",
                                           s == nullptr ? describe(node.type()) : "\"\""));
            else
                cfg.gateway.profile_dirs.push_back(resolve(ctx, s->get()));
        }
        if (dirs->empty())
            ctx.errors.add(*dirs, "gateway.profile_dirs",
                           "empty list (at least one directory to search for profiles)");
    } else {
        for (auto& d : cfg.gateway.profile_dirs)
            d = resolve(ctx, d.string());
    }
    r.finish();
}

namespace {

std::optional<mqtt_protocol> read_protocol(toml_reader& r) {
    constexpr std::string_view accepted = R"("auto" | "5" | "3.1.1")";
    if (const auto* node = r.get("protocol"); node != nullptr && !node->is_string()) {
        // protocol = 5 is the likely slip: say how to write it.
        r.errors().add(*node, r.key("protocol"),
                       fmt::format("{} where a string is expected (one of {}, quoted)",
                                   describe(node->type()), accepted));
        return std::nullopt;
    }
    return r.choice<mqtt_protocol>("protocol", {{"auto", mqtt_protocol::automatic},
                                                {"5", mqtt_protocol::v5},
                                                {"3.1.1", mqtt_protocol::v311}});
}

} // namespace

bool read_broker_options(toml_reader& r, broker_options& b, const std::string& default_client_id,
                         load_context& ctx) {
    const auto& table = r.table();
    bool url_ok = false;
    if (const auto url = r.string("url", true)) {
        auto parsed = parse_broker_url(*url);
        if (parsed.ok()) {
            b.url = std::move(parsed.value);
            url_ok = true;
        } else {
            ctx.errors.add(*table.get("url"), r.key("url"),
                           fmt::format("{} ({})", parsed.error, broker_url_syntax));
        }
    }
    b.client_id = r.string("client_id").value_or(default_client_id);
    if (b.client_id.empty())
        ctx.errors.add(*table.get("client_id"), r.key("client_id"),
                       fmt::format(R"(empty (leave it out for "{}"))", default_client_id));
    b.username = r.string("username");
    b.password_file = readable_file(r, "password_file", ctx, &b.password);
    if (b.password.ends_with('\n')) b.password.pop_back();
    if (b.password.ends_with('\r')) b.password.pop_back();
    b.ca_file = readable_file(r, "ca_file", ctx, nullptr);
    b.cert_file = readable_file(r, "cert_file", ctx, nullptr);
    b.key_file = readable_file(r, "key_file", ctx, nullptr);
    if ((table.get("cert_file") != nullptr) != (table.get("key_file") != nullptr)) {
        const bool has_cert = table.get("cert_file") != nullptr;
        ctx.errors.add(*table.get(has_cert ? "cert_file" : "key_file"),
                       r.key(has_cert ? "cert_file" : "key_file"),
                       has_cert ? "cert_file without key_file (set both or neither)"
                                : "key_file without cert_file (set both or neither)");
    }
    b.keepalive = r.duration("keepalive", std::chrono::seconds(10), std::chrono::seconds(65535))
                      .value_or(b.keepalive);
    b.protocol = read_protocol(r).value_or(b.protocol);
    if (url_ok)
        ctx.brokers.push_back({r.path(), b.url.host, b.url.port, b.username, b.password,
                               b.cert_file, table.get("url")->source()});
    if (url_ok && !b.client_id.empty()) {
        const auto* id = table.get("client_id");
        ctx.client_ids.push_back({b.client_id, r.path(), b.url.host, b.url.port,
                                  id != nullptr ? id->source() : table.source(), id != nullptr});
    }
    return url_ok;
}

namespace {

// [uplink] command_key_file: the secret signed commands are checked with (docs/security.md).
void read_command_key(toml_reader& r, uplink_config& u, load_context& ctx) {
    constexpr std::size_t shortest = 32;
    constexpr std::size_t longest = 1024;
    std::string key;
    u.command_key_file = readable_file(r, "command_key_file", ctx, &key);
    if (!u.command_key_file) return;
    // Line breaks at the end are the editor's, not the key's (as a sender reading the file
    // with .rstrip(b"\r\n") sees it).
    while (key.ends_with('\n') || key.ends_with('\r'))
        key.pop_back();
    const auto* node = r.table().get("command_key_file");
    if (key.size() < shortest || key.size() > longest) {
        ctx.errors.add(*node, r.key("command_key_file"),
                       fmt::format("the key in \"{}\" is {} bytes ({}..{}; make one with "
                                   "`openssl rand -hex 32 > {}`)",
                                   u.command_key_file->string(), key.size(), shortest, longest,
                                   u.command_key_file->string()));
        u.command_key_file.reset();
        return;
    }
    u.command_key = std::move(key);
    if (!u.commands)
        ctx.warnings.add(*node, r.key("command_key_file"),
                         "commands = false takes no command, signed or not, so the key is not "
                         "used (remove it, or set commands = true)");
}

} // namespace

void read_uplink(toml_reader& root, config& cfg, load_context& ctx) {
    const auto* table = root.sub_table("uplink");
    if (table == nullptr) {
        if (root.table().get("uplink") == nullptr)
            ctx.errors.add(
                root.table().source(), "uplink.url",
                fmt::format("required key is missing ([uplink] with url = {})", broker_url_syntax));
        return;
    }
    toml_reader r(*table, "uplink", ctx.errors);
    auto& u = cfg.uplink;
    read_broker_options(r, u, "meterbridge-" + cfg.gateway.id, ctx);
    if (const auto p = r.string("topic_prefix")) {
        if (valid_topic_prefix(*p))
            u.topic_prefix = *p;
        else
            ctx.errors.add(*table->get("topic_prefix"), "uplink.topic_prefix",
                           fmt::format("\"{}\" is not a usable topic prefix (non-empty, no + or "
                                       "#, no leading, trailing or double /)",
                                       *p));
    }
    u.max_inflight = static_cast<int>(r.integer("max_inflight", 1, 65535).value_or(u.max_inflight));
    u.commands = r.boolean("commands").value_or(u.commands);
    read_command_key(r, u, ctx);
    u.reconnect_max = r.duration("reconnect_max", std::chrono::seconds(1), std::chrono::hours(1))
                          .value_or(u.reconnect_max);
    r.finish();
}

void read_buffer(toml_reader& root, config& cfg, load_context& ctx) {
    const auto* table = root.sub_table("buffer");
    auto& b = cfg.buffer;
    if (table == nullptr) return;
    toml_reader r(*table, "buffer", ctx.errors);
    if (const auto p = r.string("path")) {
        if (p->empty())
            ctx.errors.add(*table->get("path"), "buffer.path", "empty (a database file path)");
        else
            b.path = resolve(ctx, *p);
    }
    b.max_size = r.size("max_size", 64ULL << 10U).value_or(b.max_size);
    b.max_age = r.duration("max_age", std::chrono::seconds(1)).value_or(b.max_age);
    b.flush_interval =
        r.duration("flush_interval", std::chrono::milliseconds(10)).value_or(b.flush_interval);
    b.sync = r.choice<sync_mode>("sync", {{"normal", sync_mode::normal}, {"full", sync_mode::full}})
                 .value_or(b.sync);
    r.finish();
}

void report_repeats(const std::vector<name_mark>& marks, load_context& ctx,
                    std::string_view key_suffix,
                    const std::function<std::string(const name_mark&, const name_mark&)>& message) {
    for (std::size_t j = 0; j < marks.size(); ++j)
        for (std::size_t i = 0; i < j; ++i)
            if (marks[i].name == marks[j].name) {
                ctx.errors.add(marks[j].at, marks[j].path + std::string(key_suffix),
                               message(marks[j], marks[i]));
                break;
            }
}

} // namespace detail

namespace {
using detail::load_context;

// Unique device names across [[device]] and [[native.meter]], unique bus names, and every
// device pointing at a bus that exists.
void check_names(const config& cfg, load_context& ctx) {
    const auto unique = [&](const std::vector<detail::name_mark>& marks, std::string_view what) {
        detail::report_repeats(marks, ctx, ".name", [&](const auto& repeat, const auto& first) {
            return fmt::format("\"{}\" is already used by {} ({} must be unique)", repeat.name,
                               first.path, what);
        });
    };
    unique(ctx.bus_names, "bus names");
    unique(ctx.device_names, "device names, including native meter names,");
    std::string buses;
    for (const auto& b : cfg.buses)
        buses += (buses.empty() ? "" : ", ") + b.name;
    for (std::size_t i = 0; i < cfg.devices.size(); ++i) {
        const auto& d = cfg.devices[i];
        bool found = false;
        for (const auto& b : cfg.buses)
            found = found || b.name == d.bus;
        if (!found)
            ctx.errors.add(ctx.devices[i].bus_at, ctx.devices[i].path + ".bus",
                           fmt::format("no [[bus]] named \"{}\" (defined: {})", d.bus,
                                       buses.empty() ? "none" : buses));
    }
}

// sn-<serial> is how native sources name the meters they relay: a configured name there would
// take a relayed meter's name (it is refused while the configured device exists, and one
// relayed under it now stops being relayed when the file is loaded). Valid, but worth a word.
void warn_relay_names(load_context& ctx) {
    for (const auto& mark : ctx.device_names) {
        if (!mark.name.starts_with("sn-")) continue;
        ctx.warnings.add(
            mark.at, mark.path + ".name",
            fmt::format("\"{}\" is in the sn-<serial> names native sources give the meters they "
                        "relay: a meter relayed as {} is refused while this device exists (and "
                        "one relayed under it now stops being relayed); a name without \"sn-\" "
                        "avoids that",
                        mark.name, mark.name));
    }
}

// Loads every profile a device names (each once), and checks each device's `only` globs.
void load_profiles(config& cfg, load_context& ctx, std::vector<config_error>& out) {
    std::set<std::string> failed;
    for (std::size_t i = 0; i < cfg.devices.size(); ++i) {
        const auto& d = cfg.devices[i];
        const auto& marks = ctx.devices[i];
        if (cfg.profiles.contains(d.profile) || failed.contains(d.profile)) continue;
        const auto file = find_profile(d.profile, cfg.gateway.profile_dirs, ctx.base);
        if (!file) {
            std::string dirs;
            for (const auto& dir : cfg.gateway.profile_dirs)
                dirs += (dirs.empty() ? "" : ", ") + dir.string();
            ctx.errors.add(marks.profile_at, marks.path + ".profile",
                           fmt::format("profile \"{}\" not found (a file {}.toml in {})", d.profile,
                                       d.profile, dirs));
            continue; // the next device naming it gets its own error
        }
        auto loaded = load_profile(*file);
        if (auto* errs = std::get_if<std::vector<config_error>>(&loaded)) {
            out.insert(out.end(), errs->begin(), errs->end());
            failed.insert(d.profile);
        } else {
            cfg.profiles.emplace(d.profile, std::move(std::get<drivers::rtu::profile>(loaded)));
        }
    }
    for (std::size_t i = 0; i < cfg.devices.size(); ++i) {
        const auto& d = cfg.devices[i];
        const auto it = cfg.profiles.find(d.profile);
        if (it == cfg.profiles.end()) continue;
        // A refresh period with nothing to refresh would be a setting that does nothing.
        if (const auto* at = ctx.devices[i].static_interval;
            at != nullptr && std::none_of(it->second.values.begin(), it->second.values.end(),
                                          [](const auto& v) { return v.is_static; }))
            ctx.errors.add(*at, ctx.devices[i].path + ".static_interval",
                           fmt::format("profile \"{}\" marks no value static = true, so there is "
                                       "nothing to refresh (remove it)",
                                       d.profile));
        if (ctx.devices[i].only == nullptr) continue;
        for (std::size_t g = 0; g < d.only.size(); ++g) {
            bool any = false;
            for (const auto& v : it->second.values)
                any = any || ::fnmatch(d.only[g].c_str(), v.name.c_str(), 0) == 0;
            if (!any)
                ctx.errors.add(*ctx.devices[i].only->get(g),
                               fmt::format("{}.only[{}]", ctx.devices[i].path, g),
                               fmt::format("\"{}\" matches no value of profile \"{}\" (a glob "
                                           "over its value names, e.g. \"voltage_*\")",
                                           d.only[g], d.profile));
        }
    }
}

// Host names compare without case; the text as written otherwise (nothing is resolved here).
bool equal_host(std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

// Two clients with one client id on one broker take the session from each other in turn.
// Reported at the later one, naming where the earlier one is.
void check_client_ids(load_context& ctx) {
    const auto& ids = ctx.client_ids;
    for (std::size_t j = 0; j < ids.size(); ++j) {
        for (std::size_t i = 0; i < j; ++i) {
            if (ids[i].id != ids[j].id || ids[i].port != ids[j].port ||
                !equal_host(ids[i].host, ids[j].host))
                continue;
            ctx.errors.add(
                ids[j].at, ids[j].path + ".client_id",
                fmt::format("\"{}\" is also the client id of {} ({}:{}:{}{}) on the same broker "
                            "{}:{}: the two would knock each other off (give each its own "
                            "client_id)",
                            ids[j].id, ids[i].path, ctx.errors.file().string(),
                            ids[i].at.begin.line, ids[i].at.begin.column,
                            ids[i].written ? "" : ", its default", ids[j].host, ids[j].port));
            break;
        }
    }
}

// In file order: the config file first, then each profile as it was loaded; by line within.
void sort_by_position(std::vector<config_error>& errors) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : errors)
        if (std::find(files.begin(), files.end(), e.file) == files.end()) files.push_back(e.file);
    const auto rank = [&](const config_error& e) {
        return std::find(files.begin(), files.end(), e.file) - files.begin();
    };
    std::stable_sort(errors.begin(), errors.end(), [&](const auto& a, const auto& b) {
        return std::tuple(rank(a), a.line, a.column) < std::tuple(rank(b), b.line, b.column);
    });
}

} // namespace

load_result load_config(const std::filesystem::path& file, const load_options& options) {
    std::vector<config_error> out;
    auto root = parse_toml_file(file, out);
    if (!root) return out;
    error_list errors(file, out);
    std::vector<config_warning> warned;
    error_list warnings(file, warned);
    std::error_code ec;
    auto absolute = std::filesystem::absolute(file, ec);
    load_context ctx{errors, warnings, options, (ec ? file : absolute).parent_path(),
                     {},     {},       {},      {},
                     {},     {},       {}};
    config cfg;
    cfg.source = file;
    toml_reader r(*root, "", errors);
    detail::read_gateway(r, cfg, ctx);
    detail::read_uplink(r, cfg, ctx);
    detail::read_buffer(r, cfg, ctx);
    detail::read_buses(r, cfg, ctx);
    detail::read_devices(r, cfg, ctx);
    detail::read_natives(r, cfg, ctx);
    r.finish();
    check_names(cfg, ctx);
    check_client_ids(ctx);
    detail::check_wiring(cfg, ctx);
    detail::check_shared_broker(cfg, ctx);
    load_profiles(cfg, ctx, out);
    if (!out.empty()) {
        sort_by_position(out);
        return out;
    }
    warn_relay_names(ctx);
    sort_by_position(warned);
    cfg.warnings = std::move(warned);
    return cfg;
}

} // namespace mb::config
