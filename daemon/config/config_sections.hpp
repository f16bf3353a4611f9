#pragma once
// Internal to load_config: the readers of each part of meterbridge.toml, and what they
// remember about where things were written, for the checks that span tables.
#include "daemon/config/config.hpp"
#include "daemon/config/toml_reader.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
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
    std::optional<toml::source_region> unit_at;  // when `unit` was read (1..247)
    const toml::node* static_interval = nullptr; // when written
};

// A client id and the broker it is used on ([uplink] first, then each [[native]]).
struct client_id_mark {
    std::string id;
    std::string path; // "uplink", "native[1]"
    std::string host;
    int port = 0;
    toml::source_region at; // the client_id key, or the table when it is the default
    bool written = false;   // false: the default
};

// A [[bus]] port, for the check that a port opens for one bus only.
struct port_mark {
    std::string text;     // as written
    std::string identity; // port_identity(): equal for two spellings of one port
    std::string host;     // a converter's host as written; empty: a serial port
    int port = 0;         // a converter's TCP port
    std::string path;     // "bus[1]"
    toml::source_region at;
};

// A broker a connection logs in to ([uplink] first, then each [[native]]), and as whom.
struct broker_mark {
    std::string path; // "uplink", "native[1]"
    std::string host;
    int port = 0;
    std::optional<std::string> username;
    std::string password; // never shown
    std::optional<std::filesystem::path> cert_file;
    toml::source_region url_at;
};

struct load_context {
    error_list& errors;
    error_list& warnings;
    const load_options& options;
    std::filesystem::path base; // the config file's directory: relative paths start here
    std::vector<name_mark> bus_names;
    std::vector<name_mark> device_names; // devices, then native meters
    std::vector<device_marks> devices;
    std::vector<client_id_mark> client_ids;
    std::vector<port_mark> bus_ports;
    std::vector<broker_mark> brokers;
    // What endpoints_of() found, by endpoint_identity(): each name is asked once.
    std::map<std::string, std::vector<std::string>> resolved;
};

void read_gateway(toml_reader& root, config& cfg, load_context& ctx);
// The connection keys [uplink] and [[native]] share (url, client_id, username, password_file,
// ca_file, cert_file, key_file, keepalive, protocol); false when the url is missing or bad.
bool read_broker_options(toml_reader& r, broker_options& b, const std::string& default_client_id,
                         load_context& ctx);
void read_uplink(toml_reader& root, config& cfg, load_context& ctx);
void read_buffer(toml_reader& root, config& cfg, load_context& ctx);
void read_buses(toml_reader& root, config& cfg, load_context& ctx);
void read_devices(toml_reader& root, config& cfg, load_context& ctx);
void read_natives(toml_reader& root, config& cfg, load_context& ctx);
// Two [[bus]] on one port, one unit twice on one bus: each reported at the later key, naming
// where the earlier one is (FILE:LINE:COL). Two converter addresses that differ but resolve to
// one endpoint (only with options.resolve): a warning, in the same shape.
void check_wiring(const config& cfg, load_context& ctx);
// A [[native]] on the uplink's broker logging in as the uplink does, or anonymously: a warning
// (docs/security.md: the meters there can likely publish under the uplink's topic prefix).
void check_shared_broker(const config& cfg, load_context& ctx);

// The endpoints HOST:PORT reaches: itself when it is an address; with options.resolve, what
// the name resolves to (asked once per name); without, the name's own identity.
const std::vector<std::string>& endpoints_of(load_context& ctx, const std::string& host, int port);
// "FILE:LINE:COL" of a place in the config file.
std::string where(const load_context& ctx, const toml::source_region& at);

// Reports each mark whose name an earlier mark already has, once, at the later one, under
// key "<its path><key_suffix>" with the text `message(repeat, first)`.
void report_repeats(const std::vector<name_mark>& marks, load_context& ctx,
                    std::string_view key_suffix,
                    const std::function<std::string(const name_mark&, const name_mark&)>& message);

// Relative to ctx.base unless absolute.
std::filesystem::path resolve(const load_context& ctx, const std::string& p);

} // namespace mb::config::detail
