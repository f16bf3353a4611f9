#pragma once
// Internal to load_config: the readers of each part of meterbridge.toml, and what they
// remember about where things were written, for the checks that span tables.
#include "daemon/config/config.hpp"
#include "daemon/config/toml_reader.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::config::detail {

// A name that must be unique (devices and native meters share one namespace).
struct name_mark {
    std::string name;
    std::string path; // "device[1]"
    toml::source_region at;
};

// Nodes of one loaded device, parallel to config::devices.
struct device_marks {
    std::string path;
    toml::source_region bus_at;
    toml::source_region profile_at;
    const toml::array* only = nullptr;
};

struct load_context {
    error_list& errors;
    std::filesystem::path base; // the config file's directory: relative paths start here
    std::vector<name_mark> bus_names;
    std::vector<name_mark> device_names; // devices, then native meters
    std::vector<device_marks> devices;
};

void read_gateway(toml_reader& root, config& cfg, load_context& ctx);
void read_uplink(toml_reader& root, config& cfg, load_context& ctx);
void read_buffer(toml_reader& root, config& cfg, load_context& ctx);
void read_buses(toml_reader& root, config& cfg, load_context& ctx);
void read_devices(toml_reader& root, config& cfg, load_context& ctx);
void read_natives(toml_reader& root, config& cfg, load_context& ctx);

// Reports each mark whose name an earlier mark already has, once, at the later one, under
// key "<its path><key_suffix>" with the text `message(repeat, first)`.
void report_repeats(const std::vector<name_mark>& marks, load_context& ctx,
                    std::string_view key_suffix,
                    const std::function<std::string(const name_mark&, const name_mark&)>& message);

// Relative to ctx.base unless absolute.
std::filesystem::path resolve(const load_context& ctx, const std::string& p);

} // namespace mb::config::detail
